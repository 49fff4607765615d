"""Carry out the pull half of a plan: write server versions into files with safe atomic writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from promptsync.errors import ApiError, PromptSyncError, ServerUnreachable
from promptsync.sync.advice import Disagreement, advice
from promptsync.sync.plan import Action, Plan, Status
from promptsync.sync.state import Entry, SyncState
from promptsync.sync.writes import (
    BatchWriter,
    Target,
    UnsafePath,
    prepare_target,
    relpath_for,
    write_file,
)

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient

SOURCE_IN_MANIFEST_FROM = 20  # pulling more prompts than this: one manifest call with sources
BATCH_WRITE_FROM = 20  # pulling this many files or more: one flush to disk for all of them
# Fetching one prompt after another: this many unreachable in a row means the server is gone.
UNREACHABLE_IN_A_ROW = 2
# Answers about the key, not the prompt: every other request would get them too.
_STOPS_THE_PULL = frozenset({401, 429})


class PullOutcome(StrEnum):
    """What became of one prompt a pull wanted to write."""

    PULLED = "pulled"
    REMOVED = "removed"  # the prompt was archived on the server: its unchanged file is gone
    REFUSED = "refused"  # the detail says why: local changes, an unsafe path, a bad source ...
    FAILED = "failed"  # the server did not give it (an error, no answer); the others went on


@dataclass(frozen=True)
class PullResult:
    """What happened to one file: pulled or refused."""

    slug: str
    outcome: PullOutcome
    relpath: str | None = None
    version: int | None = None
    detail: str = ""


@dataclass
class PullReport:
    """Every file's pull result, and the error that stopped the pull, if one did."""

    results: list[PullResult] = field(default_factory=list)
    error: PromptSyncError | None = None

    @property
    def ok(self) -> bool:
        """True when nothing was refused and nothing failed."""
        return self.error is None and all(r.outcome in (PullOutcome.PULLED, PullOutcome.REMOVED)
                                          for r in self.results)


def _wanted(action: Action, force: bool) -> str | None:
    """Why a pull skips or refuses ``action``: None to pull, "" to skip quietly, else a reason."""
    if (action.status == Status.INVALID and action.local is not None
            and action.remote is not None and not action.remote.archived
            and action.remote.version != action.base_version):
        # A local edit that does not parse is still a local edit: with the server moved on,
        # a conflict (--force takes the server's), not "already up to date".
        return None if force else (
            f"the file has local changes (not valid yet) and the server has "
            f"v{action.remote.version}: promptsync pull --force takes the server's; or fix "
            "the file, then promptsync push --force keeps yours")
    if action.remote is None or action.remote.archived or action.status in (
            Status.IN_SYNC, Status.NEW, Status.INVALID, Status.RENAMED):
        return ""  # archived: its file is removed (sync/lifecycle.py), never written
    if action.status == Status.BEHIND or force:
        return None
    if action.status == Status.CONFLICT and action.local is None:
        return (f"the file was deleted here and the server moved on to "
                f"v{action.remote.version}: {advice(Disagreement.DELETED_HERE)}")
    if action.status == Status.CONFLICT:
        return (f"the file has local changes and the server has v{action.remote.version}: "
                f"{advice(Disagreement.BOTH_CHANGED)}")
    return ""  # MODIFIED: the server has nothing newer; DELETED: push archives it


def _sources(api: ApiClient, project: str | None, todo: list[Action],
             report: PullReport) -> dict[str, dict]:
    """slug -> version JSON (with source) for the prompts to pull; a prompt the server fails
    to give is reported as FAILED and the others are still fetched."""
    if len(todo) > SOURCE_IN_MANIFEST_FROM:
        wanted = {a.slug for a in todo}
        # A broken item is skipped here: its prompt is then refused as sent without a source.
        return {item["slug"]: item for item in api.manifest(project, include_source=True)
                if isinstance(item, dict) and item.get("slug") in wanted}
    found = {}
    unreachable = 0
    for action in todo:
        assert action.remote is not None
        try:
            data = api.get_version(project, action.slug, version=action.remote.version)
        except (ApiError, ServerUnreachable) as exc:
            if isinstance(exc, ApiError) and exc.status in _STOPS_THE_PULL:
                report.error = exc
                break
            report.results.append(PullResult(action.slug, PullOutcome.FAILED, action.relpath,
                                             detail=str(exc)))
            unreachable = unreachable + 1 if isinstance(exc, ServerUnreachable) else 0
            if unreachable >= UNREACHABLE_IN_A_ROW:
                report.error = exc
                break
            continue
        unreachable = 0
        if data is not None:
            found[action.slug] = data
    return found


def apply_pull(
    plan: Plan,
    state: SyncState,
    api: ApiClient,
    project: str | None,
    root: Path,
    *,
    force: bool = False,
) -> PullReport:
    """Write the server's latest version into files that are behind (any file with ``force``)."""
    report = PullReport()
    todo: list[Action] = []
    for action in plan.actions:
        reason = _wanted(action, force)
        if reason is None:
            reason = _unsafe(action.slug)
        if reason is None:
            todo.append(action)
        elif reason:
            report.results.append(PullResult(action.slug, PullOutcome.REFUSED, action.relpath,
                                             detail=reason))
    if not todo:
        return report
    try:
        sources = _sources(api, project, todo, report)
    except PromptSyncError as exc:
        report.error = exc
        return report
    answered = {r.slug for r in report.results}
    ready: list[tuple[Action, Target]] = []
    for action in todo:
        if action.slug in answered:
            continue  # failed to fetch: reported already
        if report.error is not None and action.slug not in sources:
            continue  # never asked for: the pull stopped (report.error says why)
        data = sources.get(action.slug)
        try:
            ready.append((action, prepare_target(root, state, action, data)))
        except PromptSyncError as exc:
            report.results.append(PullResult(action.slug, PullOutcome.REFUSED, action.relpath,
                                             detail=str(exc)))
    if not ready:
        return report
    # Record the new hashes first (keeping the old ones), so a watcher seeing our rename
    # skips it and a crash before the rename is recognised as "not pulled yet".
    old_entries = {action.slug: state.get(action.slug) for action, _ in ready}
    for action, target in ready:
        state.record(action.slug, target.version, target.sha256, target.relpath,
                     keep_previous=True)
    state.save()
    if len(ready) >= BATCH_WRITE_FROM:
        _write_batch(ready, state, report, old_entries, force)
    else:
        for action, target in ready:
            try:
                write_file(target.path, target.body, _expected(action), force=force)
            except PromptSyncError as exc:
                _restore(state, action.slug, old_entries[action.slug])
                report.results.append(PullResult(action.slug, PullOutcome.REFUSED,
                                                 target.relpath, detail=str(exc)))
                continue
            state.settle(action.slug)
            report.results.append(PullResult(action.slug, PullOutcome.PULLED, target.relpath,
                                             version=target.version))
    state.save()
    return report


def _unsafe(slug: str) -> str | None:
    """Why a slug from the server cannot name a file here, before anything is fetched for it."""
    try:
        relpath_for(slug)
    except UnsafePath as exc:
        return str(exc)
    return None


def _expected(action: Action) -> str | None:
    """The hash the file had when planned (None: no file), which a write must still find."""
    return action.local.sha256 if action.local is not None else None


def _write_batch(
    ready: list[tuple[Action, Target]],
    state: SyncState,
    report: PullReport,
    old_entries: dict[str, Entry | None],
    force: bool,
) -> None:
    """write_file for many files with one flush to disk (BatchWriter) instead of 2 per file."""
    batch = BatchWriter()
    refused: dict[str, str] = {}
    try:
        for action, target in ready:
            try:
                batch.stage(target.path, target.body)
            except PromptSyncError as exc:
                refused[action.slug] = str(exc)
        lost = batch.flush()
        for action, target in ready:
            if target.path in lost:
                refused[action.slug] = str(lost[target.path])
        for action, target in ready:
            if action.slug not in refused:
                try:
                    batch.replace(target.path, _expected(action), force=force)
                except PromptSyncError as exc:
                    refused[action.slug] = str(exc)
            if action.slug in refused:
                _restore(state, action.slug, old_entries[action.slug])
                report.results.append(PullResult(action.slug, PullOutcome.REFUSED,
                                                 target.relpath, detail=refused[action.slug]))
                continue
            state.settle(action.slug)
            report.results.append(PullResult(action.slug, PullOutcome.PULLED, target.relpath,
                                             version=target.version))
        batch.finish()  # the renames on disk before the state that says they happened
    finally:
        batch.discard()


def _restore(state: SyncState, slug: str, entry: Entry | None) -> None:
    if entry is None:
        state.forget(slug)
    else:
        state.entries[slug] = entry
