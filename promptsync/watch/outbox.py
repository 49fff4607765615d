"""The watch daemon's upload queue: every save kept in the journal with its text, sent in order.

`promptsync push` uploads files as they are on disk. `watch` turns each *save* into a version,
so a save made while the server is unreachable must survive later saves and a crash: it is
appended to the journal of `.promptsync/state.json` with its source (written before anything
is sent) and removed only once the server answered. Sending is idempotent: a save that reached
the server before a crash is the prompt's latest version, and the server answers "unchanged"
for the same bytes instead of storing a duplicate. Two saves of one prompt are never in flight
together, so only the first queued save of a prompt can already be on the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from promptsync.client.batch import BatchAnswer
from promptsync.errors import Problem, PromptSyncError
from promptsync.protocol import BATCH_LIMIT, PushOutcome
from promptsync.sync.engine import SyncEngine
from promptsync.sync.scan import LocalFile
from promptsync.sync.state import Pending, SyncState


@dataclass(frozen=True)
class Sent:
    """The server's answer to one queued save: created, unchanged, conflict, invalid or error."""

    slug: str
    outcome: PushOutcome
    version: int | None = None
    base_version: int | None = None
    latest_version: int | None = None
    problems: tuple[Problem, ...] = ()
    detail: str = ""
    dropped: int = 0  # later saves of the same prompt dropped with a conflicting one
    sha256: str = ""  # of the save


@dataclass
class FlushReport:
    """Every answer of one flush, and the error that stopped it (what is left stays queued)."""

    results: list[Sent] = field(default_factory=list)
    error: PromptSyncError | None = None


def queued(state: SyncState) -> list[Pending]:
    """The saves waiting in the journal (entries of an interrupted push carry no source)."""
    return [p for p in state.journal if p.source is not None]


def last_hashes(state: SyncState) -> dict[str, str]:
    """slug -> the hash of its newest queued save, else of its last synced version."""
    latest = {slug: entry.sha256 for slug, entry in state.entries.items()}
    for item in queued(state):
        latest[item.slug] = item.sha256
    return latest


def next_run(journal: list[Pending], limit: int = BATCH_LIMIT) -> list[Pending]:
    """The queued saves to send next in one request: from the front, one per prompt, in order."""
    run: list[Pending] = []
    seen: set[str] = set()
    for item in journal:
        if item.source is None:
            continue  # a push's entry: settled from the manifest, never replayed
        if item.slug in seen or len(run) >= limit:
            break  # the second save of a prompt needs the first one's version as its parent
        seen.add(item.slug)
        run.append(item)
    return run


class Outbox:
    """Queue saves in the journal and send them in order; the engine holds state and API."""

    def __init__(self, engine: SyncEngine, batch_limit: int = BATCH_LIMIT) -> None:
        self.engine = engine
        self.batch_limit = batch_limit
        # Whether the journal may hold saves: a flush with nothing queued must not even read
        # the state (idle `watch` on 5,000 files would parse it at every poll). Only this
        # process queues saves, so true at start (a previous run's) and after each enqueue.
        self._maybe_queued = True

    def enqueue(self, files: Iterable[LocalFile]) -> list[LocalFile]:
        """Queue each file whose hash differs from its newest known one; return those queued."""
        with self.engine.state.locked():
            state = self.engine.reload()
            latest = last_hashes(state)
            added: list[LocalFile] = []
            for local in files:
                if latest.get(local.slug) == local.sha256:
                    continue  # touch, a save without change, our own pull, a duplicate event
                latest[local.slug] = local.sha256
                added.append(local)
            if not added:
                return []
            self._maybe_queued = True
            slugs = {local.slug for local in added}
            # A save supersedes what an interrupted push left for the same prompt.
            state.journal = [p for p in state.journal
                             if p.source is not None or p.slug not in slugs]
            state.journal_add(
                Pending(local.slug, local.sha256, None, None, local.relpath,
                        source=local.data.decode("utf-8"))
                for local in added
            )
            return added

    def count(self) -> int:
        """How many saves wait in the journal."""
        return len(queued(self.engine.reload()))

    def slugs(self) -> set[str]:
        """The prompts with saves waiting."""
        return {p.slug for p in queued(self.engine.reload())}

    def flush(self) -> FlushReport:
        """Send queued saves in order until none is left or the server cannot be reached."""
        api = self.engine.api
        assert api is not None, "the outbox needs an ApiClient"
        report = FlushReport()
        while self._maybe_queued:
            with self.engine.state.locked():
                state = self.engine.reload()
                run = next_run(state.journal, self.batch_limit)
                bases = [state.base_version(p.slug) for p in run]
                if not run:
                    self._maybe_queued = False  # under the lock: an enqueue comes after
                    break
            # Unlocked while the request runs: a save made meanwhile is queued at once (a slow
            # or unreachable server must not hold up the journal); the parent_version sent
            # makes the server refuse what a concurrent push would have made stale.
            items = [{"slug": p.slug, "source": p.source, "parent_version": base}
                     for p, base in zip(run, bases, strict=True)]
            try:
                answers = api.push_batch(self.engine.project, items)
            except PromptSyncError as exc:
                report.error = exc
                return report
            with self.engine.state.locked():
                state = self.engine.reload()
                for item, base, answer in zip(run, bases, answers, strict=True):
                    report.results.append(_settle(state, item, base, answer))
                state.save()
        return report


def _settle(state: SyncState, item: Pending, base: int, answer: BatchAnswer) -> Sent:
    """Record one answer in the state (in memory) and take the save off the journal."""
    state.journal_ack([item.id])
    if answer.outcome in (PushOutcome.CREATED, PushOutcome.UNCHANGED):
        assert answer.version is not None
        entry = state.get(item.slug)
        if entry is None or entry.version <= answer.version:  # a concurrent push may be ahead
            state.record(item.slug, answer.version, item.sha256, item.path)
        return Sent(item.slug, answer.outcome, answer.version, base_version=base)
    if answer.outcome == PushOutcome.CONFLICT:
        # The later saves of this prompt build on the refused one: they cannot go either.
        later = [p.id for p in queued(state) if p.slug == item.slug]
        last = next((p.sha256 for p in reversed(queued(state)) if p.slug == item.slug),
                    item.sha256)
        state.journal_ack(later)
        return Sent(item.slug, answer.outcome, base_version=base,
                    latest_version=answer.latest_version, detail=answer.detail,
                    dropped=len(later), sha256=last)
    return Sent(item.slug, answer.outcome, problems=answer.problems, detail=answer.detail)
