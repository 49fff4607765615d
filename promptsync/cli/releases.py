"""CLI commands for releases: label, labels (history), rollback, promotions, approve, reject."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from promptsync.cli.context import Obj, pass_obj
from promptsync.cli.errors import Refused, refused_line
from promptsync.cli.output import echo, echo_err, echo_json
from promptsync.cli.scripting import labels_document
from promptsync.errors import ApiError

DEFAULT_LABEL = "production"
STATES = ("pending", "approved", "rejected", "stale", "all")
# The refusals of a move that would leave an include unresolved: their detail says what to do.
INCLUDE_REFUSALS = ("included", "broken_include")


def _when(value: Any) -> str:
    return str(value or "").replace("T", " ")[:16]


def _ref(version: Any) -> str:
    return f"v{version}" if isinstance(version, int) else "-"


def request_line(request: dict[str, Any]) -> str:
    """What a just-opened promotion request tells its requester."""
    needed = int(request.get("approvals_required") or 1) - len(request.get("approvals") or [])
    if needed <= 1:
        return f"request #{request.get('id')} waits for another admin's approval"
    return f"request #{request.get('id')} waits for {needed} other admins' approvals"


@contextmanager
def _refusals(subject: str, what: str) -> Iterator[None]:
    """A move the server refuses because of includes (SPEC §13) as push says it: one line."""
    try:
        yield
    except ApiError as exc:
        if exc.code not in INCLUDE_REFUSALS:
            raise
        raise Refused(refused_line(subject, what, exc.detail) + ".") from exc


def _moved(slug: str, label: str, answer: dict[str, Any]) -> None:
    """Say what a label call did: moved, or opened a request."""
    request = answer.get("request")
    if isinstance(request, dict):
        target = _ref(request.get("version")) if request.get("version") else "removal"
        echo_err(f"{slug}: {label} -> {target}: {request_line(request)}")
        return
    previous = answer.get("previous")
    was = f" (was v{previous})" if previous else ""
    echo_err(f"{slug}: {label} -> {_ref(answer.get('version'))}{was}")


def _evidence(obj: Obj, project: str, slug: str) -> tuple[dict[str, Any], str] | None:
    """The git provenance and sha256 of the prompt's file in this checkout (the server records
    a clean one for a protected label); None without a checkout of the project, a file or git."""
    repo = obj.settings().repo
    if repo is None or (repo.project or project) != project:
        return None
    from promptsync.format.slugs import EXTENSIONS
    from promptsync.sync.gitinfo import git_info
    from promptsync.sync.scan import LocalFile, load_file

    for path in (repo.dir / f"{slug}{ext}" for ext in EXTENSIONS):
        if path.is_file():
            local = load_file(repo.dir, path)
            info = git_info(repo.dir) if isinstance(local, LocalFile) else None
            if info is None or not isinstance(local, LocalFile):
                return None
            return info.for_file(local.path), local.sha256
    return None


@click.command()
@click.argument("slug")
@click.argument("label_name", metavar="LABEL")
@click.argument("version", type=click.IntRange(min=1), required=False)
@click.option("--delete", is_flag=True, help="Remove the label instead of moving it.")
@click.option("--allow-breaking", is_flag=True,
              help="Move a protected label even when the version breaks the prompt's contract.")
@pass_obj
def label(obj: Obj, slug: str, label_name: str, version: int | None, delete: bool,
          allow_breaking: bool) -> None:
    """Point LABEL at VERSION (default: the latest version), or remove it with --delete.

    Run in a checkout, it sends the git provenance of the prompt's file: when the project asks
    protected labels for a clean commit, a committed file holding VERSION's bytes vouches for it.
    """
    api, project = obj.client(), obj.require_project()
    if delete:
        if version is not None:
            raise click.UsageError("--delete takes no VERSION")
        with _refusals(slug, f"{label_name} not removed"):
            answer = api.delete_label(project, slug, label_name)
        if answer is not None:
            _moved(slug, label_name, answer)
        else:
            echo_err(f"{slug}: {label_name} removed")
        return
    if version is None:
        latest = api.get_version(project, slug)
        assert latest is not None
        version = int(latest["version"])
    with _refusals(slug, f"{label_name} not moved to v{version}"):
        # The file here may vouch for a version pushed before its commit (watch saves first).
        answer = api.set_label(project, slug, label_name, version, allow_breaking=allow_breaking,
                               evidence=_evidence(obj, project, slug))
    _moved(slug, label_name, answer)


@click.command()
@click.argument("slug")
@click.argument("label_name", metavar="[LABEL]", default=DEFAULT_LABEL)
@click.option("--json", "as_json", is_flag=True, help="The moves as JSON on stdout.")
@pass_obj
def labels(obj: Obj, slug: str, label_name: str, as_json: bool) -> None:
    """A label's history, newest first (LABEL defaults to production)."""
    project = obj.require_project()
    moves = obj.client().label_history(project, slug, label_name)
    if as_json:
        echo_json(labels_document(project, slug, label_name, moves))
        return
    if not moves:
        echo_err(f"{slug}: '{label_name}' has never been set")
    for move in moves:
        step = f"{_ref(move.get('from_version'))} -> {_ref(move.get('to_version'))}"
        line = f"{_when(move.get('at')):<16}  {step:<13} {move.get('actor') or '-'}"
        reason = str(move.get("reason") or "").split("\n")[0]
        echo(f"{line}  {reason}".rstrip(" "))


@click.command()
@click.argument("slug")
@click.argument("label_name", metavar="[LABEL]", default=DEFAULT_LABEL)
@pass_obj
def rollback(obj: Obj, slug: str, label_name: str) -> None:
    """Point LABEL (default: production) back where it was before its last move."""
    from promptsync.client.releases import rollback_label  # start-up cost: httpx

    with _refusals(slug, f"{label_name} not rolled back"):
        answer = rollback_label(obj.client(), obj.require_project(), slug, label_name)
    _moved(slug, label_name, answer)


@click.command()
@click.option("--state", type=click.Choice(STATES), default="pending", show_default=True,
              help="Which requests to list.")
@pass_obj
def promotions(obj: Obj, state: str) -> None:
    """Promotion requests of the project, newest first."""
    found = obj.client().promotions(obj.require_project(), None if state == "all" else state)
    if not found:
        echo_err(f"no {'' if state == 'all' else state + ' '}promotion requests")
    for item in found:
        target = _ref(item.get("version")) if item.get("version") else "removed"
        step = f"{item.get('label')} {_ref(item.get('from_version'))} -> {target}"
        sha = str(item.get("sha256") or "")[:12]
        votes = f"{len(item.get('approvals') or [])}/{item.get('approvals_required')}"
        echo(f"#{item.get('id'):<4} {item.get('state'):<8} {item.get('slug')}  {step}"
             f"{'  sha256 ' + sha if sha else ''}  by {item.get('requested_by')}"
             f"  {_when(item.get('created_at'))}  approvals {votes}")


@click.command()
@click.argument("request_id", metavar="N", type=click.IntRange(min=1))
@pass_obj
def approve(obj: Obj, request_id: int) -> None:
    """Approve promotion request N (another admin's): the label moves."""
    with _refusals(f"request #{request_id}", "not approved"):
        done = obj.client().approve(obj.require_project(), request_id)
    where = f"{done.get('slug')}: {done.get('label')} -> " + (
        _ref(done.get("version")) if done.get("version") else "removed")
    if done.get("state") == "approved":
        echo_err(f"request #{request_id} approved: {where}")
    else:
        echo_err(f"request #{request_id} approved ({where}); {request_line(done)}")


@click.command()
@click.argument("request_id", metavar="N", type=click.IntRange(min=1))
@pass_obj
def reject(obj: Obj, request_id: int) -> None:
    """Reject promotion request N: the label stays where it is."""
    done = obj.client().reject(obj.require_project(), request_id)
    echo_err(f"request #{request_id} rejected: {done.get('slug')} {done.get('label')} stays")


COMMANDS = [label, labels, rollback, promotions, approve, reject]
