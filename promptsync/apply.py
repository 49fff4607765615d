"""Carry out a plan: push in journaled batches, pull with safe atomic writes. Returns values."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsync.errors import PromptSyncError
from promptsync.safewrite import BatchWriter, prepare_target, write_file
from promptsync.state import Pending, SyncState
from promptsync.sync import Action, Plan, Status

if TYPE_CHECKING:
    from promptsync.client import ApiClient
    from promptsync.errors import Problem
    from promptsync.gitinfo import GitInfo

CHUNK = 500  # items per batch request: the server's limit
UPLOAD_THREADS = 2  # batch requests in flight at once: the server parses one while storing another
SOURCE_IN_MANIFEST_FROM = 20  # pulling more prompts than this: one manifest call with sources
BATCH_WRITE_FROM = 20  # pulling this many files or more: one flush to disk for all of them


@dataclass(frozen=True)
class PushResult:
    """What happened to one file: created, unchanged, rejected, invalid, error, would push."""

    slug: str
    outcome: str
    relpath: str | None = None
    version: int | None = None
    base_version: int | None = None
    latest_version: int | None = None
    problems: tuple[Problem, ...] = ()
    detail: str = ""


@dataclass
class PushReport:
    """Every file's push result, and the error that stopped the push, if one did."""

    results: list[PushResult] = field(default_factory=list)
    error: PromptSyncError | None = None

    @property
    def failed(self) -> list[PushResult]:
        """Results that make the push exit 1."""
        return [r for r in self.results if r.outcome in ("rejected", "invalid", "error")]

    @property
    def ok(self) -> bool:
        """True when every file was uploaded (or unchanged) and nothing stopped the push."""
        return self.error is None and not self.failed


@dataclass(frozen=True)
class PullResult:
    """What happened to one file: pulled, refused or error."""

    slug: str
    outcome: str
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
        return self.error is None and all(r.outcome == "pulled" for r in self.results)


# --- push ----------------------------------------------------------------------------------


def _rejected(action: Action) -> PushResult:
    return PushResult(action.slug, "rejected", action.relpath, base_version=action.base_version,
                      latest_version=action.remote_version)


def apply_push(
    plan: Plan,
    state: SyncState,
    api: ApiClient,
    project: str | None,
    *,
    message: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    git: GitInfo | None = None,
    progress: Callable[[int], None] | None = None,
) -> PushReport:
    """Upload NEW and MODIFIED files (CONFLICT too with ``force``, without a parent check)."""
    report = PushReport()
    todo: list[Action] = []
    for action in plan.actions:
        if action.status == Status.INVALID:
            report.results.append(PushResult(action.slug, "invalid", action.relpath,
                                             problems=action.problems))
        elif action.status == Status.CONFLICT and not force:
            report.results.append(_rejected(action))
        elif action.status in (Status.NEW, Status.MODIFIED, Status.CONFLICT):
            todo.append(action)
    if dry_run:
        report.results += [PushResult(a.slug, "would push", a.relpath,
                                      base_version=a.base_version) for a in todo]
        return report
    if message is None and git is not None:
        message = git.subject  # the default message: the last commit's subject
    pending: list[Pending] = []
    items: list[dict[str, Any]] = []
    for action in todo:
        assert action.local is not None
        parent = None if force else action.base_version
        pending.append(Pending(action.slug, action.local.sha256, parent, message,
                               action.local.relpath))
        item: dict[str, Any] = {"slug": action.slug, "source": action.local.data.decode("utf-8")}
        if message is not None:
            item["message"] = message
        if parent is not None:
            item["parent_version"] = parent
        if git is not None:
            item["git"] = git.for_file(action.local.path)
        items.append(item)
    if not todo:
        return report
    # Journal first: a crash after the server stored a version but before we heard back is
    # recognised next time by the hash (SyncState.resolve_journal) instead of pushed again.
    superseded = {a.slug for a in todo}
    state.journal = [p for p in state.journal if p.slug not in superseded]
    state.journal_add(pending)
    chunks = [(start, items[start:start + CHUNK]) for start in range(0, len(todo), CHUNK)]
    done: dict[int, list[PushResult]] = {}
    try:
        for start, answers in _upload(api, project, chunks):
            if isinstance(answers, PromptSyncError):
                # The journal keeps this chunk and the unsent ones for the next run.
                report.error = report.error or answers
                continue
            chunk = todo[start:start + CHUNK]
            done[start] = [_record_answer(state, action, answer)
                           for action, answer in zip(chunk, answers, strict=True)]
            state.journal_ack(p.id for p in pending[start:start + CHUNK])
            if progress is not None:
                progress(len(chunk))
    finally:
        # One write for the whole push (not one per chunk): the journal saved before the
        # first request covers a crash before this point (resolve_journal, by hash).
        state.save()
    for start in sorted(done):
        report.results += done[start]
    return report


def _upload(
    api: ApiClient, project: str | None, chunks: list[tuple[int, list[dict[str, Any]]]]
) -> Iterator[tuple[int, list[dict[str, Any]] | PromptSyncError]]:
    """Send the chunks, UPLOAD_THREADS at a time; yield (start, answers or error) as they end.

    After an error no further chunk is sent (those in flight still report). Chunks hold
    distinct slugs, so their order on the server does not matter.
    """
    if len(chunks) == 1:
        start, body = chunks[0]
        try:
            yield start, api.push_batch(project, body)
        except PromptSyncError as exc:
            yield start, exc
        return
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    waiting = list(reversed(chunks))
    running: dict[Future[list[dict[str, Any]]], int] = {}
    failed = False
    # ApiClient's httpx.Client is documented as safe to share between threads.
    pool = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="promptsync-push")
    try:
        while True:
            while waiting and not failed and len(running) < UPLOAD_THREADS:
                start, body = waiting.pop()
                running[pool.submit(api.push_batch, project, body)] = start
            if not running:
                return
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                start = running.pop(future)
                try:
                    answers = future.result()
                except PromptSyncError as exc:
                    failed = True
                    yield start, exc
                else:
                    yield start, answers
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _record_answer(state: SyncState, action: Action, answer: dict[str, Any]) -> PushResult:
    """Turn one batch result into a PushResult, recording uploaded hashes in the state."""
    assert action.local is not None
    outcome = answer.get("status")
    relpath = action.local.relpath
    if outcome in ("created", "unchanged"):
        version = int(answer["version"])
        state.record(action.slug, version, action.local.sha256, relpath)
        return PushResult(action.slug, str(outcome), relpath, version=version,
                          base_version=action.base_version)
    if outcome == "conflict":
        return PushResult(action.slug, "rejected", relpath, base_version=action.base_version,
                          latest_version=answer.get("latest_version"),
                          detail=str(answer.get("detail", "")))
    if outcome == "invalid":
        from promptsync.errors import Problem

        problems = tuple(
            Problem(str(p.get("message")), p.get("line"), p.get("column"))
            for p in answer.get("problems") or [] if isinstance(p, dict)
        ) or (Problem(str(answer.get("detail", "invalid prompt"))),)
        return PushResult(action.slug, "invalid", relpath, problems=problems)
    return PushResult(action.slug, "error", relpath,
                      detail=str(answer.get("detail") or f"unexpected result {answer!r}"))


# --- pull ----------------------------------------------------------------------------------


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
            report.results.append(PullResult(action.slug, "refused", action.relpath,
                                             detail=reason))
    if not todo:
        return report
    try:
        sources = _sources(api, project, todo)
    except PromptSyncError as exc:
        report.error = exc
        return report
    ready: list[tuple[Action, Path, str, int, str, bytes]] = []
    for action in todo:
        data = sources.get(action.slug)
        try:
            target, relpath, version, sha, body = prepare_target(root, state, action, data)
        except PromptSyncError as exc:
            report.results.append(PullResult(action.slug, "refused", action.relpath,
                                             detail=str(exc)))
            continue
        ready.append((action, target, relpath, version, sha, body))
    if not ready:
        return report
    # Record the new hashes first (keeping the old ones), so a watcher seeing our rename
    # skips it and a crash before the rename is recognised as "not pulled yet".
    old_entries = {a.slug: state.get(a.slug) for a, *_ in ready}
    for action, _, relpath, version, sha, _ in ready:
        state.record(action.slug, version, sha, relpath, keep_previous=True)
    state.save()
    if len(ready) >= BATCH_WRITE_FROM:
        _write_batch(ready, state, report, old_entries, force)
    else:
        for action, target, relpath, version, _, body in ready:
            expected = action.local.sha256 if action.local is not None else None
            try:
                write_file(target, body, expected, force=force)
            except PromptSyncError as exc:
                _restore(state, action.slug, old_entries[action.slug])
                report.results.append(PullResult(action.slug, "refused", relpath,
                                                 detail=str(exc)))
                continue
            state.settle(action.slug)
            report.results.append(PullResult(action.slug, "pulled", relpath, version=version))
    state.save()
    return report


def _write_batch(
    ready: list[tuple[Action, Path, str, int, str, bytes]],
    state: SyncState,
    report: PullReport,
    old_entries: dict[str, Any],
    force: bool,
) -> None:
    """write_file for many files with one flush to disk (BatchWriter) instead of 2 per file."""
    batch = BatchWriter()
    refused: dict[str, str] = {}
    try:
        for action, target, *_, body in ready:
            try:
                batch.stage(target, body)
            except PromptSyncError as exc:
                refused[action.slug] = str(exc)
        lost = batch.flush()
        for action, target, *_ in ready:
            if target in lost:
                refused[action.slug] = str(lost[target])
        for action, target, relpath, version, _, _ in ready:
            if action.slug not in refused:
                expected = action.local.sha256 if action.local is not None else None
                try:
                    batch.replace(target, expected, force=force)
                except PromptSyncError as exc:
                    refused[action.slug] = str(exc)
            if action.slug in refused:
                _restore(state, action.slug, old_entries[action.slug])
                report.results.append(PullResult(action.slug, "refused", relpath,
                                                 detail=refused[action.slug]))
                continue
            state.settle(action.slug)
            report.results.append(PullResult(action.slug, "pulled", relpath, version=version))
        batch.finish()  # the renames on disk before the state that says they happened
    finally:
        batch.discard()


def _restore(state: SyncState, slug: str, entry: Any) -> None:
    if entry is None:
        state.forget(slug)
    else:
        state.entries[slug] = entry
