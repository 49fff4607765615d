"""Carry out the push half of a plan: upload in journaled batches, a few in flight at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptsync.client.batch import BatchAnswer
from promptsync.errors import Problem, PromptSyncError
from promptsync.protocol import BATCH_LIMIT, PushOutcome
from promptsync.sync.gitinfo import GitInfo
from promptsync.sync.plan import Action, Plan, Status
from promptsync.sync.state import Pending, SyncState

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient

UPLOAD_THREADS = 2  # batch requests in flight at once: the server parses one while storing another
_FAILED = frozenset({PushOutcome.CONFLICT, PushOutcome.INVALID, PushOutcome.ERROR})


@dataclass(frozen=True)
class PushResult:
    """What happened to one file (a dry run: WOULD_PUSH; a conflict not forced: CONFLICT)."""

    slug: str
    outcome: PushOutcome
    relpath: str | None = None
    version: int | None = None
    base_version: int | None = None
    latest_version: int | None = None
    problems: tuple[Problem, ...] = ()
    detail: str = ""
    code: str = ""  # the server's error code of a refusal ("conflict", "protected_label", ...)
    renamed_from: str | None = None  # a rename: the old slug, archived with this upload


@dataclass
class PushReport:
    """Every file's push result, and the error that stopped the push, if one did."""

    results: list[PushResult] = field(default_factory=list)
    error: PromptSyncError | None = None

    @property
    def failed(self) -> list[PushResult]:
        """Results that make the push exit 1."""
        return [r for r in self.results if r.outcome in _FAILED]

    @property
    def ok(self) -> bool:
        """True when every file was uploaded (or unchanged) and nothing stopped the push."""
        return self.error is None and not self.failed


def _rejected(action: Action) -> PushResult:
    return PushResult(action.slug, PushOutcome.CONFLICT, action.relpath,
                      base_version=action.base_version, latest_version=action.remote_version)


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
    """Upload NEW, MODIFIED and RENAMED files (CONFLICT too with ``force``, without a parent
    check). Deleted files are archived by sync/lifecycle.py."""
    report = PushReport()
    todo: list[Action] = []
    for action in plan.actions:
        if action.status == Status.INVALID:
            report.results.append(PushResult(action.slug, PushOutcome.INVALID, action.relpath,
                                             problems=action.problems))
        elif action.local is None:
            continue  # a deletion (sync/lifecycle.py) or a prompt to pull: not an upload
        elif action.status == Status.CONFLICT and not force:
            report.results.append(_rejected(action))
        elif action.status in (Status.NEW, Status.MODIFIED, Status.CONFLICT, Status.RENAMED):
            todo.append(action)
    if dry_run:
        report.results += [PushResult(a.slug, PushOutcome.WOULD_PUSH, a.relpath,
                                      base_version=a.base_version, renamed_from=a.renamed_from)
                           for a in todo]
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
        if action.renamed_from is not None:
            # One item: the server archives the old slug and creates this one together.
            item["renamed_from"] = action.renamed_from
            if not force:
                item["renamed_from_version"] = action.renamed_from_version
        items.append(item)
    if not todo:
        return report
    # Journal first: a crash after the server stored a version but before we heard back is
    # recognised next time by the hash (SyncState.resolve_journal) instead of pushed again.
    superseded = {a.slug for a in todo}
    state.journal = [p for p in state.journal if p.slug not in superseded]
    state.journal_add(pending)
    chunks = [(start, items[start:start + BATCH_LIMIT])
              for start in range(0, len(todo), BATCH_LIMIT)]
    done: dict[int, list[PushResult]] = {}
    try:
        for start, answers in _upload(api, project, chunks):
            if isinstance(answers, PromptSyncError):
                # The journal keeps this chunk and the unsent ones for the next run.
                report.error = report.error or answers
                continue
            chunk = todo[start:start + BATCH_LIMIT]
            done[start] = [_record_answer(state, action, answer)
                           for action, answer in zip(chunk, answers, strict=True)]
            state.journal_ack(p.id for p in pending[start:start + BATCH_LIMIT])
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
) -> Iterator[tuple[int, list[BatchAnswer] | PromptSyncError]]:
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
    waiting = list(reversed(chunks))
    running: dict[Future[list[BatchAnswer]], int] = {}
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


def _record_answer(state: SyncState, action: Action, answer: BatchAnswer) -> PushResult:
    """Turn one batch answer into a PushResult, recording uploaded hashes in the state."""
    assert action.local is not None
    relpath = action.local.relpath
    if answer.outcome in (PushOutcome.CREATED, PushOutcome.UNCHANGED):
        assert answer.version is not None
        state.record(action.slug, answer.version, action.local.sha256, relpath)
        if action.renamed_from is not None:
            state.mark_archived(action.renamed_from)  # archived by the server with this upload
        return PushResult(action.slug, answer.outcome, relpath, version=answer.version,
                          base_version=action.base_version, renamed_from=action.renamed_from)
    if answer.outcome == PushOutcome.CONFLICT:
        return PushResult(action.slug, answer.outcome, relpath, base_version=action.base_version,
                          latest_version=answer.latest_version, detail=answer.detail,
                          code=answer.code, renamed_from=action.renamed_from)
    return PushResult(action.slug, answer.outcome, relpath, problems=answer.problems,
                      detail=answer.detail, code=answer.code, renamed_from=action.renamed_from)
