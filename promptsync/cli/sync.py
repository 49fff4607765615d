"""CLI commands that tie the prompts dir to the server: status, push, pull, lint."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptsync.cli.context import Obj, display, pass_obj
from promptsync.cli.errors import Failure, refused_line
from promptsync.cli.output import echo, echo_err, echo_json
from promptsync.cli.scripting import status_document
from promptsync.errors import ConfigError, Problem
from promptsync.protocol import PushOutcome
from promptsync.sync.advice import Disagreement, advice

if TYPE_CHECKING:
    from promptsync.sync.engine import SyncEngine
    from promptsync.sync.plan import Action, Plan
    from promptsync.sync.push import PushResult

# The config and the sync modules (PyYAML) are imported inside the commands that use them, for
# start-up cost: `promptsync --help` and every other command load this module.

# What the server refuses in a message: control characters but tab and line breaks.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
PROGRESS_FROM = 50  # show a progress bar when pushing at least this many files
LIST_UP_TO = 50  # name each pushed file up to this many; beyond, a summary line


def _where(path: Path | str | None, problem: Problem) -> str:
    """``file:line:col: message`` (line and column when known)."""
    spot = display(path)
    if problem.line is not None:
        spot += f":{problem.line}"
        if problem.column is not None:
            spot += f":{problem.column}"
    return f"{spot}: {problem.message}"


def _status_line(action: Action) -> str:
    from promptsync.sync.plan import Status  # start-up cost: PyYAML

    where = display(action.path) if action.path else action.relpath or ""
    remote = action.remote_version
    archived = action.remote is not None and action.remote.archived
    detail = {
        Status.NEW: (f"{where}: archived on the server at v{remote}, push restores it"
                     if archived else f"{where}: not on the server yet"),
        Status.MODIFIED: f"{where}: changed since v{action.base_version}",
        Status.BEHIND: (f"v{remote} on the server, your file is v{action.base_version}"
                        if action.base_version else f"v{remote} on the server, no file yet"),
        Status.CONFLICT: _conflict_detail(action, where),
        Status.DELETED: f"{action.relpath} deleted here, push archives v{remote} on the server",
        Status.ARCHIVED: f"{where}: archived on the server, pull removes the file",
        Status.RENAMED: (f"{where}: renamed from {action.renamed_from} "
                         f"(v{action.renamed_from_version}), push renames it on the server"),
    }.get(action.status, "")
    return f"{action.status.value:<9} {action.slug:<30} {detail}".rstrip()


def _conflict_detail(action: Action, where: str) -> str:
    remote, base = action.remote_version, action.base_version
    if action.local is None:
        return f"{action.relpath} deleted here (v{base}), server moved on to v{remote}"
    if action.remote is not None and action.remote.archived:
        return f"{where}: changed since v{base}, archived on the server"
    if base:
        return f"{where}: changed since v{base}, server at v{remote}"
    return f"{where}: differs from v{remote} on the server (never synced here)"


def _check_paths_match(engine: SyncEngine, plan: Plan, paths: tuple[str, ...]) -> None:
    """Fail on a PATH argument that names no file and no prompt (a typo): push, pull and status
    would otherwise report "in sync" for it."""
    from promptsync.sync.scan import select  # start-up cost: PyYAML

    slugs = [a.slug for a in plan.actions]
    for raw in paths:
        selection, _ = select(engine.dir, [raw])
        if not any(slug in selection for slug in slugs):
            raise Failure(f"{raw}: no prompt file there nor prompt on the server")


@click.command()
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything is out of sync (for CI).")
@click.option("--json", "as_json", is_flag=True,
              help="Every prompt's status as JSON on stdout (for scripts and CI).")
@click.argument("paths", nargs=-1, type=click.Path())
@pass_obj
def status(obj: Obj, exit_code: bool, as_json: bool, paths: tuple[str, ...]) -> None:
    """List prompts that are new, modified, behind, in conflict, deleted, archived, renamed
    or invalid."""
    from promptsync.sync.partials import affected_by
    from promptsync.sync.plan import Status  # start-up cost: PyYAML

    engine = obj.engine()
    plan = engine.plan(paths)
    _check_paths_match(engine, plan, paths)
    if as_json:
        echo_json(status_document(plan))
    else:
        # A change to a partial changes what the prompts including it render: name them.
        affected = affected_by(a.local for a in plan.actions if a.local is not None)
        for action in plan.out_of_sync:
            if action.status == Status.INVALID:
                for problem in action.problems:
                    echo(f"{'invalid':<9} {_where(action.path, problem)}")
            else:
                echo(_status_line(action) + _includers(action, affected))
    counts = plan.counts()
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    echo_err(summary or "no prompts yet")
    if exit_code and plan.out_of_sync:
        sys.exit(1)
    # A file that cannot be a prompt at all (its name, .YAML, a symlink, two files for one
    # slug) fails status even without --exit-code: it would never be synced otherwise.
    if any(a.status == Status.INVALID and a.local is None for a in plan.actions):
        sys.exit(1)


def _includers(action: Action, affected: Mapping[str, set[str]]) -> str:
    """What the status line adds about partials: who a change affects, or who holds a partial
    that push would archive or rename (the server refuses both while others include it)."""
    from promptsync.sync.plan import Status  # start-up cost: PyYAML

    gone = {Status.DELETED: action.slug, Status.RENAMED: action.renamed_from}.get(action.status)
    if gone is not None and affected.get(gone):
        doing = "rename" if action.status == Status.RENAMED else "archive"
        return (f" (but {', '.join(sorted(affected[gone]))} include {gone}: the server "
                f"refuses to {doing} it while they do)")
    if affected.get(action.slug) and action.status != Status.BEHIND:
        return f" (affects {', '.join(sorted(affected[action.slug]))})"
    return ""


def _rejected_line(result: PushResult, action: Action | None) -> str:
    latest = f"v{result.latest_version}" if result.latest_version else "a newer version"
    base = f"v{result.base_version}" if result.base_version else "no server version"
    if result.renamed_from is not None:
        return (f"rejected: {result.slug}: not renamed from {result.renamed_from}: "
                f"{result.detail.rstrip('.')}; promptsync status shows where both stand")
    if action is not None and action.local is None:
        return (f"rejected: {result.slug} was deleted here but is at {latest} on the server "
                f"(you had {base}): {advice(Disagreement.DELETED_HERE)}")
    if action is not None and action.remote is not None and action.remote.archived:
        return (f"rejected: {result.slug} is archived on the server and your file changed "
                f"since {base}: {advice(Disagreement.ARCHIVED_THERE)}")
    return (f"rejected: {result.slug} is at {latest} on the server, your file is based on "
            f"{base}: {advice(Disagreement.BOTH_CHANGED)}")


def _push_line(result: PushResult, action: Action | None, where: str) -> str | None:
    """The line for one result of a push (None: said by the caller or in a summary)."""
    from promptsync.sync.lifecycle import PROTECTED_HINT  # start-up cost: PyYAML

    renamed = f", renamed from {result.renamed_from}" if result.renamed_from else ""
    if result.outcome == PushOutcome.WOULD_PUSH:
        return f"would push {result.slug} ({where}){renamed}"
    if result.outcome == PushOutcome.WOULD_ARCHIVE:
        return f"would archive {result.slug} (v{result.version}: {where} was deleted)"
    if result.outcome == PushOutcome.ARCHIVED:
        return f"{result.slug}: archived"
    if result.code in ("protected_label", "included"):
        what = f"not renamed from {result.renamed_from}" if renamed else "not archived"
        line = refused_line(result.slug, what, result.detail)
        if result.code == "protected_label":
            return f"{line}; {PROTECTED_HINT}"
        # An include's refusal names the includers and what to do itself.
        return line + ("." if renamed else "; or restore the file.")
    if result.outcome == PushOutcome.CONFLICT:
        return _rejected_line(result, action)
    if result.outcome == PushOutcome.ERROR:
        return f"error: {result.slug}: {result.detail}"
    return None


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-m", "--message", help="Version message [default: the last commit's subject].")
@click.option("--dry-run", is_flag=True, help="Show what would be pushed, push nothing.")
@click.option("--force", is_flag=True, help="Push even where the server moved on (no base check).")
@pass_obj
def push(obj: Obj, paths: tuple[str, ...], message: str | None, dry_run: bool,
         force: bool) -> None:
    """Upload every changed prompt file as a new version; archive the prompts of deleted
    files, and rename those whose file moved."""
    from promptsync.sync.plan import Status  # start-up cost: PyYAML

    if message is not None and (bad := _CONTROL.search(message)) is not None:
        # Refused here, not as the server's "'prompts[0].message' contains …" for the batch.
        raise click.BadParameter(f"contains the control character U+{ord(bad[0]):04X}",
                                 param_hint="'-m'")
    engine = obj.engine()
    plan = engine.plan(paths)
    _check_paths_match(engine, plan, paths)
    count = len(plan.with_status(Status.NEW, Status.MODIFIED, Status.RENAMED,
                                 *([Status.CONFLICT] * force)))
    if count >= PROGRESS_FROM and not dry_run:
        with click.progressbar(length=count, label="pushing", file=sys.stderr) as bar:
            report = engine.push(plan, message=message, force=force, progress=bar.update)
    else:
        report = engine.push(plan, message=message, force=force, dry_run=dry_run)
    created = [r for r in report.results if r.outcome == PushOutcome.CREATED]
    actions = {a.slug: a for a in plan.actions}
    for result in report.results:
        where = display(engine.dir / (result.relpath or ""))
        if result.outcome == PushOutcome.CREATED and len(created) <= LIST_UP_TO:
            renamed = f", renamed from {result.renamed_from}" if result.renamed_from else ""
            echo_err(f"{result.slug}: pushed v{result.version}{renamed}")
        elif result.outcome == PushOutcome.INVALID:
            path = engine.dir / result.relpath if result.relpath else None
            for problem in result.problems:
                echo_err(_where(path, problem))
        elif (line := _push_line(result, actions.get(result.slug), where)) is not None:
            dry = result.outcome in (PushOutcome.WOULD_PUSH, PushOutcome.WOULD_ARCHIVE)
            echo(line, err=not dry)  # a dry run's list is data (stdout), the rest messages
    if len(created) > LIST_UP_TO:
        echo_err(f"pushed {len(created)} new versions")
    if report.error is not None:
        raise report.error
    if not report.results:
        echo_err("nothing to push: everything is in sync")
    if not report.ok:
        failed = report.failed
        echo_err(f"{len(failed)} file{'s' * (len(failed) != 1)} not pushed")
        sys.exit(1)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--force", is_flag=True, help="Overwrite local changes with the server's version.")
@pass_obj
def pull(obj: Obj, paths: tuple[str, ...], force: bool) -> None:
    """Write newer server versions into the files, atomically; remove the unchanged files
    of prompts archived on the server."""
    from promptsync.sync.pull import PullOutcome  # start-up cost: PyYAML

    engine = obj.engine()
    plan = engine.plan(paths)
    _check_paths_match(engine, plan, paths)
    report = engine.pull(plan, force=force)
    for result in report.results:
        where = display(engine.dir / result.relpath) if result.relpath else result.slug
        if result.outcome == PullOutcome.PULLED:
            echo_err(f"{result.slug}: pulled v{result.version} into {where}")
        elif result.outcome == PullOutcome.REMOVED:
            echo_err(f"{result.slug}: archived on the server, removed {where}")
        elif result.outcome == PullOutcome.FAILED:
            echo_err(f"error: {result.slug}: not pulled: {result.detail}")
        else:
            echo_err(f"refused: {result.slug}: {result.detail}")
    if report.error is not None:
        raise report.error
    if not report.results:
        echo_err("already up to date")
    if not report.ok:
        sys.exit(1)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@pass_obj
def lint(obj: Obj, paths: tuple[str, ...]) -> None:
    """Validate prompt files offline; every problem as file:line:col."""
    # Start-up cost: PyYAML, loaded here rather than for every command.
    from promptsync.sync.plan import check_file
    from promptsync.sync.scan import BadFile, LocalFile, load_file, scan
    from promptsync.sync.tree import walk

    repo = obj.settings().repo
    items: list[LocalFile | BadFile] = []
    if repo is not None and all(_below(p, repo.dir) for p in paths):
        scanned, _ = scan(repo.dir, list(paths) or None)
        items = [*scanned.bad, *scanned.files.values()]
    elif paths:
        # Outside a repository: judge the contents; names are judged relative to each folder.
        for raw in paths:
            path = Path(raw).absolute()
            base = path if path.is_dir() else path.parent
            for file in walk(path) if path.is_dir() else [path]:
                items.append(load_file(base, file))
    else:
        raise ConfigError("not in a promptsync repository: pass the files or folders to lint")
    from promptsync.sync.partials import check_includes, parsed_tree

    # Includes resolve against the whole tree, not only the paths asked about.
    whole = scan(repo.dir)[0].files.values() if repo is not None and paths else items
    tree = parsed_tree(i for i in whole if isinstance(i, LocalFile))
    failed = 0
    for item in sorted(items, key=lambda i: str(i.path)):
        problems = item.problems if isinstance(item, BadFile) else check_file(item)
        if not problems and isinstance(item, LocalFile):
            report = check_includes(item.slug, tree)
            problems = tuple(Problem(text) for text in report.problems)
            for written in report.unjudged:
                echo_err(f"{item.relpath}: not judged offline: {{{{> {written} }}}} (labels "
                         "and versions live on the server)")
        for problem in problems:
            echo(_where(item.path, problem))
        failed += bool(problems)
    echo_err(f"{len(items) - failed} ok, {failed} with problems" if items else "no prompt files")
    if failed:
        sys.exit(1)


def _below(path: str, directory: Path) -> bool:
    resolved = Path(path).resolve()
    return resolved == directory or directory in resolved.parents


COMMANDS = [status, push, pull, lint]  # init: cli/repository.py
