"""CLI commands for versions on the server: log, diff, get, render, export."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from promptsync.cli.context import Obj, display, pass_obj
from promptsync.cli.output import echo, echo_content, echo_err, echo_json
from promptsync.cli.scripting import log_document
from promptsync.errors import ConfigError, PromptSyncError
from promptsync.format.contract import command_line_values
from promptsync.sync.state import SyncState

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient

LOCAL = "local"
PROJECT_LOG_EVENTS = 300  # the newest audit events `log` without a slug reads versions from


def _version_option(func: Any) -> Any:
    func = click.option("--label", metavar="LABEL", help="A labelled version.")(func)
    return click.option("--version", "version", type=click.IntRange(min=1), metavar="N",
                        help="A version number.")(func)


def _one_of(version: int | None, label: str | None) -> None:
    if version is not None and label is not None:
        raise click.UsageError("pass --version or --label, not both")


@click.command()
@click.argument("slug", required=False)
@click.option("-n", "--limit", type=click.IntRange(1, 100), default=20, show_default=True,
              help="Without SLUG: how many of the project's newest versions.")
@click.option("--json", "as_json", is_flag=True, help="The versions as JSON on stdout.")
@pass_obj
def log(obj: Obj, slug: str | None, limit: int, as_json: bool) -> None:
    """Version history of SLUG: version, time, author, message, labels (newest first);
    without SLUG, the project's newest versions of any prompt."""
    api, project = obj.client(), obj.require_project()
    if slug is None:
        _project_log(obj, project, limit, as_json)
        return
    versions = api.versions(project, slug)
    if as_json:
        echo_json(log_document(project, slug, versions))
        return
    for item in versions:
        when = str(item.get("created_at") or "").replace("T", " ")[:16]
        labels = ", ".join(item.get("labels") or [])
        line = f"v{item['version']:<4} {when:<16}  {item.get('author') or '-':<24}"
        if labels:
            line += f" [{labels}]"
        if item.get("renamed_from"):
            line += f" (renamed from {item['renamed_from']})"  # "<old slug>@v<N>"
        # The first line by "\n" alone: a CR or U+2028 inside it is shown, not obeyed.
        message = str(item.get("message") or "").split("\n")[0].removesuffix("\r")
        echo(f"{line} {message}".rstrip(" "))


def _project_log(obj: Obj, project: str, limit: int, as_json: bool) -> None:
    # The audit log holds every version made, newest first, with its author and time (the
    # message is on the version itself: `log SLUG` shows it).
    events = obj.client().events(project, limit=PROJECT_LOG_EVENTS)
    versions = [{"slug": e.get("slug"), "version": (e.get("details") or {}).get("version"),
                 "author": e.get("actor"), "created_at": e.get("created_at")}
                for e in events if e.get("action") == "version.created"][:limit]
    if as_json:
        echo_json(log_document(project, None, versions))
        return
    for item in versions:
        when = str(item["created_at"] or "").replace("T", " ")[:16]
        echo(f"{when:<16}  {item['slug']} v{item['version']}  {item['author'] or '-'}")
    if not versions:
        echo_err(f"no versions yet in project '{project}'")


def _local_file(obj: Obj, slug: str) -> Path:
    """The file of ``slug`` in the prompts dir (.yaml or .yml)."""
    from promptsync.sync.writes import relpath_for  # start-up cost: PyYAML

    repo = obj.repo()
    entry = SyncState.load(repo.state_dir).get(slug)
    candidates = [entry.path if entry else None, slug + ".yaml", slug + ".yml"]
    for candidate in candidates:
        if candidate and (repo.dir / candidate).is_file():
            return repo.dir / relpath_for(slug, candidate)
    raise ConfigError(f"no local file for {slug} in {display(repo.dir)}/")


def _server_source(obj: Obj, slug: str, ref: str | None) -> tuple[str, str]:
    """(label for the diff header, source) of a server ref: number, label or latest."""
    api, project = obj.client(), obj.require_project()
    if ref is None or ref == "latest":
        data = api.get_version(project, slug)
    elif ref.isdigit():
        data = api.get_version(project, slug, version=int(ref))
    else:
        data = api.get_version(project, slug, label=ref)
    assert data is not None
    return f"{slug}@v{data['version']}", str(data["source"])


@click.command()
@click.argument("slug")
@click.argument("refs", nargs=-1, metavar="[REF [REF]]")
@pass_obj
def diff(obj: Obj, slug: str, refs: tuple[str, ...]) -> None:
    """Unified diff; REF is a version, a label or 'local' (default: server latest vs local)."""
    if len(refs) > 2:
        raise click.UsageError("diff takes at most two REFs")
    ref_from = refs[0] if refs else None
    ref_to = refs[1] if len(refs) == 2 else LOCAL
    if ref_from != LOCAL and ref_to != LOCAL:
        data = obj.client().diff(obj.require_project(), slug, ref_from, ref_to)
        _print_diff(obj, str(data.get("diff", "")), f"{slug}@v{data.get('from')}",
                    f"{slug}@v{data.get('to')}")
        return
    sides = []
    for ref in (ref_from, ref_to):
        if ref == LOCAL:
            path = _local_file(obj, slug)
            sides.append((display(path), path.read_bytes().decode("utf-8", "replace")))
        else:
            sides.append(_server_source(obj, slug, ref))
    (from_name, a), (to_name, b) = sides
    lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                 fromfile=from_name, tofile=to_name)
    _print_diff(obj, "".join(lines), from_name, to_name)


def _print_diff(obj: Obj, text: str, from_name: str, to_name: str) -> None:
    # An empty stdout alone reads as "did it run?": say so where messages go, like git's --stat.
    if text:
        echo_content(obj, text)
    else:
        echo_err(f"no differences between {from_name} and {to_name}")


@click.command()
@click.argument("slug")
@_version_option
@click.option("--json", "as_json", is_flag=True, help="The API's JSON instead of the YAML source.")
@pass_obj
def get(obj: Obj, slug: str, version: int | None, label: str | None, as_json: bool) -> None:
    """Print a version: the YAML source exactly as stored, or the API JSON."""
    _one_of(version, label)
    data = obj.client().get_version(obj.require_project(), slug, version=version, label=label)
    assert data is not None
    if as_json:
        echo_json(data)
        return
    echo_content(obj, str(data["source"]))


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.UsageError(f"-v expects NAME=VALUE, got {pair!r}")
        if name in values:  # which one was meant? (the last won, silently)
            raise click.UsageError(f"-v gives {name!r} twice")
        values[name] = value
    return values


@click.command()
@click.argument("slug")
@_version_option
@click.option("-v", "--var", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A variable (repeatable).")
@pass_obj
def render(obj: Obj, slug: str, version: int | None, label: str | None,
           pairs: tuple[str, ...]) -> None:
    """Print the filled template (JSON messages for chat prompts); strict about variables."""
    _one_of(version, label)
    api, project = obj.client(), obj.require_project()
    values: dict[str, object] = dict(_variables(pairs))
    if values:
        # Command-line values are text: read each as its variable's declared type, so
        # `-v n=3` is the integer 3 and `-v n=x` is refused here, naming the variable.
        data = api.get_version(project, slug, version=version, label=label)
        specs = (data or {}).get("variables") or {}
        values = command_line_values(specs, _variables(pairs))
    result = api.render(project, slug, values, version=version, label=label)
    if "messages" in result:
        echo_json(result["messages"])
    else:
        text = str(result.get("text", ""))
        # Into a pipe or a file the text exactly, a missing final newline included (what an
        # import promises); a terminal gets one, so the prompt after it starts on its own line.
        echo_content(obj, text, newline=obj.is_terminal() and not text.endswith("\n"))


def _with_partials(api: ApiClient, project: str, label: str | None,
                   versions: list[dict[str, Any]]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The versions, those that include partials fetched again by the label (or latest) for
    the includes the server resolves, and every version those name (SPEC §13): what an
    offline render needs to give the server's text."""
    out, partials, seen = [], [], set()
    for item in versions:
        if "{{>" in str(item.get("source")):
            fetched = api.get_version(project, item["slug"], label=label)
            if fetched is None:
                raise PromptSyncError(f"{item['slug']}: the server sent no version")
            item = fetched
        out.append(item)
        for include in item.get("includes") or ():
            key = (include["slug"], include["version"])
            if key not in seen:
                seen.add(key)
                found = api.get_version(project, key[0], version=key[1])
                if found is None:
                    raise PromptSyncError(f"{key[0]}: the server sent no v{key[1]}")
                partials.append(found)
    return out, partials


@click.command()
@click.option("--label", metavar="LABEL", help="Export the version with this label [latest].")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Bundle file to write.")
@pass_obj
def export(obj: Obj, label: str | None, output: str) -> None:
    """Write a bundle of every prompt at LABEL (or latest) for the client's offline fallback."""
    from promptsync.client.bundle import write_bundle  # start-up cost: PyYAML

    if output == "-":  # as backup's -o - would suggest; it wrote a file named "-"
        raise click.BadParameter("a bundle is a file that PROMPTSYNC_BUNDLE names; '-' is not "
                                 "stdout here", param_hint="'-o'")
    api, project = obj.client(), obj.require_project()
    versions = []
    for item in api.manifest(project, include_source=True):
        if label is None:
            versions.append(item)
            continue
        number = (item.get("labels") or {}).get(label)
        if number is None:
            continue
        if number == item.get("version"):
            versions.append(item)
        else:
            older = api.get_version(project, item["slug"], version=number)
            if older is None:
                raise PromptSyncError(f"{item['slug']}: the server sent no v{number}")
            versions.append(older)
    if label is not None and not versions:  # a typo: an empty bundle serves nothing offline
        raise PromptSyncError(f"no prompt of '{project}' has the label '{label}': nothing "
                              "written")
    versions, partials = _with_partials(api, project, label, versions)
    try:
        bundle = write_bundle(output, project, label, versions, partials)
    except OSError as exc:  # named as asked, not by the hidden temporary file of the write
        raise PromptSyncError(f"cannot write {output}: {exc.strerror or exc}") from exc
    what = f"labelled '{label}'" if label else "latest"
    count = len(bundle["prompts"])
    echo_err(f"wrote {count} prompt{'s' * (count != 1)} ({what}) to {display(output)}")


COMMANDS = [log, diff, get, render, export]  # label: cli/releases.py
