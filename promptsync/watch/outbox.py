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

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from promptsync.client.batch import BatchAnswer
from promptsync.errors import ApiError, Problem, PromptSyncError
from promptsync.format.partials import has_includes
from promptsync.protocol import BATCH_LIMIT, PushOutcome
from promptsync.sync.engine import SyncEngine
from promptsync.sync.lifecycle import send_archive
from promptsync.sync.plan import pair_renames
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
    path: str = ""  # of the saved file, in the prompts dir
    code: str = ""  # the server's error code of a refusal ("protected_label", ...)
    renamed_from: str | None = None  # a save that renamed this prompt from another slug
    archive: bool = False  # the answer to an archive, not to a save
    # Refused as invalid on its bytes alone (a 422 for a source without includes): the same
    # bytes would be refused again, whatever the server holds. An include's 422 depends on the
    # prompts it names, which a later push may bring: not a verdict on the bytes.
    verdict: bool = False


@dataclass(frozen=True)
class Queued:
    """What one enqueue added: saves (some of them renames: new slug -> old) and archives."""

    saves: list[LocalFile] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    archives: list[str] = field(default_factory=list)


@dataclass
class FlushReport:
    """Every answer of one flush, and the error that stopped it (what is left stays queued)."""

    results: list[Sent] = field(default_factory=list)
    error: PromptSyncError | None = None


def queued(state: SyncState) -> list[Pending]:
    """The saves and archives waiting in the journal (an interrupted push's carry neither)."""
    return [p for p in state.journal if p.source is not None or p.archive]


def last_hashes(state: SyncState) -> dict[str, str]:
    """slug -> the hash of its newest queued save, else of its last synced version (none
    once an archive is queued: the same bytes saved again bring the prompt back)."""
    latest = {slug: entry.sha256 for slug, entry in state.entries.items() if not entry.archived}
    for item in queued(state):
        if item.archive:
            latest.pop(item.slug, None)
        else:
            latest[item.slug] = item.sha256
    return latest


def leaving(state: SyncState) -> set[str]:
    """The slugs a queued archive or rename takes away from the server."""
    return {p.renamed_from or p.slug for p in queued(state) if p.archive or p.renamed_from}


def next_run(journal: list[Pending], limit: int = BATCH_LIMIT) -> list[Pending]:
    """The queued saves to send next in one request: from the front, one per prompt, in order."""
    run: list[Pending] = []
    seen: set[str] = set()
    for item in journal:
        if item.source is None and not item.archive:
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

    def enqueue(self, files: Iterable[LocalFile], gone: Iterable[str] = ()) -> Queued:
        """Queue each file whose hash differs from its newest known one, as a rename when it
        holds the bytes of a synced prompt whose file is missing; and an archive for each
        prompt of ``gone`` (slugs whose file is deleted) that is not renamed."""
        with self.engine.state.locked():
            state = self.engine.reload()
            latest = last_hashes(state)
            added: list[LocalFile] = []
            for local in files:
                if latest.get(local.slug) == local.sha256:
                    continue  # touch, a save without change, our own pull, a duplicate event
                latest[local.slug] = local.sha256
                added.append(local)
            renames = self._renames(state, added, set(gone))
            away = leaving(state) | set(renames.values())
            archives = [slug for slug in dict.fromkeys(gone) if slug not in away
                        and _live(state, slug) and not self._exists(state, slug)]
            if not added and not archives:
                return Queued()
            self._maybe_queued = True
            slugs = {local.slug for local in added}
            # A save supersedes what an interrupted push left for the same prompt.
            state.journal = [p for p in state.journal
                             if p.source is not None or p.archive or p.slug not in slugs]
            state.journal_add([
                *(Pending(local.slug, local.sha256, None, None, local.relpath,
                          source=local.data.decode("utf-8"), renamed_from=renames.get(local.slug))
                  for local in added),
                *(Pending(slug, entry.sha256, None, None, entry.path, archive=True)
                  for slug in archives if (entry := state.get(slug)) is not None),
            ])
            return Queued(added, renames, archives)

    def _exists(self, state: SyncState, slug: str) -> bool:
        entry = state.get(slug)
        return entry is not None and os.path.lexists(self.engine.dir / entry.path)

    def _renames(self, state: SyncState, added: list[LocalFile], gone: set[str]
                 ) -> dict[str, str]:
        """new slug -> old slug: new files holding the synced bytes of a prompt whose file is
        missing now (deleted in this batch, or still within the grace period of its deletion)."""
        born = {f.slug: f.sha256 for f in added if not _live(state, f.slug)}
        if not born:
            return {}
        shas = set(born.values())
        away = leaving(state)
        missing = {slug: entry.sha256 for slug, entry in state.entries.items()
                   if entry.sha256 in shas and not entry.archived and slug not in away
                   and slug not in born
                   and (slug in gone or not self._exists(state, slug))}
        return pair_renames(missing, born)

    def count(self) -> int:
        """How many saves wait in the journal."""
        return len(queued(self.engine.reload()))

    def slugs(self) -> set[str]:
        """The prompts with saves waiting."""
        return {p.slug for p in queued(self.engine.reload())}

    def flush(self) -> FlushReport:
        """Send queued saves and archives in order until none is left or the server cannot
        be reached."""
        api = self.engine.api
        assert api is not None, "the outbox needs an ApiClient"
        report = FlushReport()
        while self._maybe_queued:
            with self.engine.state.locked():
                state = self.engine.reload()
                run = next_run(state.journal, self.batch_limit)
                bases = {p.id: state.base_version(p.slug) for p in run}
                # A rename is a compare-and-swap on the old slug's version as last synced.
                moved = {p.id: state.base_version(p.renamed_from) for p in run if p.renamed_from}
                if not run:
                    self._maybe_queued = False  # under the lock: an enqueue comes after
                    break
            # Unlocked while the requests run: a save made meanwhile is queued at once (a slow
            # or unreachable server must not hold up the journal); the parent_version sent
            # makes the server refuse what a concurrent push would have made stale.
            saves = [p for p in run if not p.archive]
            try:
                if saves:
                    items = [_item(p, bases[p.id], moved.get(p.id)) for p in saves]
                    answers = api.push_batch(self.engine.project, items)
                    self._record(report, [(p, bases[p.id], answer)
                                          for p, answer in zip(saves, answers, strict=True)])
                for item in (p for p in run if p.archive):
                    refused = send_archive(api, self.engine.project, item.slug, bases[item.id])
                    self._record(report, [(item, bases[item.id], refused)])
            except PromptSyncError as exc:
                report.error = exc
                return report
        return report

    def _record(self, report: FlushReport,
                answered: list[tuple[Pending, int, BatchAnswer | ApiError | None]]) -> None:
        """Take answered items off the journal and record what they did, in one state write."""
        with self.engine.state.locked():
            state = self.engine.reload()
            for item, base, answer in answered:
                state.journal_ack([item.id])
                if isinstance(answer, BatchAnswer):
                    report.results.append(_settle(state, item, base, answer))
                else:
                    report.results.append(_archived(state, item, base, answer))
            state.save()


def _live(state: SyncState, slug: str) -> bool:
    """Whether ``slug`` was last in sync with a file (not unknown, not archived from here)."""
    entry = state.get(slug)
    return entry is not None and not entry.archived


WATCH_MESSAGE = "saved in {path} (promptsync watch)"


def _item(pending: Pending, base: int, moved: int | None) -> dict[str, Any]:
    """A queued save as a batch item; a rename names the old slug and its synced version."""
    # A save has no message of its own: `log` says at least that watch sent it, and from where.
    message = pending.message or WATCH_MESSAGE.format(path=pending.path)
    item: dict[str, Any] = {"slug": pending.slug, "source": pending.source,
                            "parent_version": base, "message": message}
    if pending.renamed_from is not None:
        item["renamed_from"] = pending.renamed_from
        item["renamed_from_version"] = moved
    return item


def _settle(state: SyncState, item: Pending, base: int, answer: BatchAnswer) -> Sent:
    """Record one answer in the state (in memory); the save is off the journal already."""
    renamed = item.renamed_from
    if answer.outcome in (PushOutcome.CREATED, PushOutcome.UNCHANGED):
        assert answer.version is not None
        entry = state.get(item.slug)
        if entry is None or entry.version <= answer.version:  # a concurrent push may be ahead
            state.record(item.slug, answer.version, item.sha256, item.path)
        if renamed is not None:
            state.mark_archived(renamed)  # archived by the server with this save
        return Sent(item.slug, answer.outcome, answer.version, base_version=base,
                    renamed_from=renamed, sha256=item.sha256, path=item.path)
    if answer.outcome == PushOutcome.CONFLICT and renamed is None:
        # The later saves of this prompt build on the refused one: they cannot go either.
        later = [p.id for p in queued(state) if p.slug == item.slug]
        last = next((p.sha256 for p in reversed(queued(state)) if p.slug == item.slug),
                    item.sha256)
        state.journal_ack(later)
        return Sent(item.slug, answer.outcome, base_version=base,
                    latest_version=answer.latest_version, detail=answer.detail,
                    dropped=len(later), sha256=last, code=answer.code, path=item.path)
    if renamed is not None and answer.outcome != PushOutcome.INVALID:
        # The rename is refused (the old prompt moved on, or a protected label holds it): the
        # file goes up as a new prompt, and the old one's archive is refused on its own.
        state.journal.append(replace(item, id=uuid.uuid4().hex, renamed_from=None))
    verdict = answer.outcome == PushOutcome.INVALID and not has_includes(item.source or "")
    return Sent(item.slug, answer.outcome, problems=answer.problems, detail=answer.detail,
                code=answer.code, renamed_from=renamed, sha256=item.sha256, path=item.path,
                verdict=verdict)


def _archived(state: SyncState, item: Pending, base: int, refused: ApiError | None) -> Sent:
    """Record the answer to a queued archive (in memory)."""
    if refused is None:
        state.mark_archived(item.slug)  # the same file put back restores it from here
        return Sent(item.slug, PushOutcome.ARCHIVED, base, archive=True)
    outcome = PushOutcome.CONFLICT if refused.code == "conflict" else PushOutcome.ERROR
    latest = refused.body.get("latest_version")
    return Sent(item.slug, outcome, base_version=base, detail=refused.detail, code=refused.code,
                latest_version=latest if isinstance(latest, int) else None, archive=True)
