"""Carry out the pull half of a plan: write server versions into files with safe atomic writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from promptsync.errors import PromptSyncError
from promptsync.sync.plan import Action, Plan, Status
from promptsync.sync.state import Entry, SyncState
from promptsync.sync.writes import BatchWriter, Target, prepare_target, write_file

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient

SOURCE_IN_MANIFEST_FROM = 20  # pulling more prompts than this: one manifest call with sources
BATCH_WRITE_FROM = 20  # pulling this many files or more: one flush to disk for all of them


class PullOutcome(StrEnum):
    """What became of one prompt a pull wanted to write."""

    PULLED = "pulled"
    REFUSED = "refused"  # the detail says why: local changes, an unsafe path, a bad source ...


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
        return self.error is None and all(r.outcome == PullOutcome.PULLED for r in self.results)


def _wanted(action: Action, force: bool) -> str | None:
    """Why a pull skips or refuses ``action``: None to pull, "" to skip quietly, else a reason."""
    if action.remote is None or action.status in (Status.IN_SYNC, Status.NEW, Status.INVALID):
        return ""
    if action.status == Status.BEHIND or force:
        return None
    if action.status == Status.CONFLICT:
        return (f"the file has local changes and the server has v{action.remote.version}: "
                "run promptsync push --force to keep yours, or promptsync pull --force "
                "to take the server's")
    if action.status == Status.DELETED:
        return "the file was deleted locally: promptsync pull --force restores it"
    return ""  # MODIFIED: the server has nothing newer


def _sources(api: ApiClient, project: str | None, todo: list[Action]) -> dict[str, dict]:
    """slug -> version JSON (with source) for every prompt to pull."""
    if len(todo) > SOURCE_IN_MANIFEST_FROM:
        wanted = {a.slug for a in todo}
        return {item["slug"]: item for item in api.manifest(project, include_source=True)
                if item.get("slug") in wanted}
    found = {}
    for action in todo:
        assert action.remote is not None
        data = api.get_version(project, action.slug, version=action.remote.version)
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
            todo.append(action)
        elif reason:
            report.results.append(PullResult(action.slug, PullOutcome.REFUSED, action.relpath,
                                             detail=reason))
    if not todo:
        return report
    try:
        sources = _sources(api, project, todo)
    except PromptSyncError as exc:
        report.error = exc
        return report
    ready: list[tuple[Action, Target]] = []
    for action in todo:
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
