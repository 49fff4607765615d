"""`promptsync watch`: every save becomes a version, server-side changes reach unmodified files.

Two threads meet in the journal of `.promptsync/state.json`, never in memory:
- the watcher's worker (`on_change`, `on_rescan`, through watch/intake.py) reads changed files,
  reports bad ones and queues good ones in the journal with their text (`Outbox.enqueue`); it
  never touches the net;
- the sync thread (`step`) reconciles once, sends queued saves in order (`Outbox.flush`) and
  pulls server-side changes: told by the event stream (watch/feed.py, with ``listen``), else by
  polling; when it cannot reach the server, it retries with capped exponential backoff.
Everything it has to say is one line per event through ``log`` (watch/eventlog.py); ``name``
says how a file is shown (the CLI: relative to the working directory, as `lint` shows it).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptsync.errors import ApiError, PromptSyncError, ServerUnreachable
from promptsync.sync.engine import SyncEngine
from promptsync.sync.plan import Plan, Status
from promptsync.sync.pull import PullReport
from promptsync.watch.eventlog import EventLog, plural
from promptsync.watch.feed import RemoteFeed
from promptsync.watch.intake import Intake
from promptsync.watch.outbox import FlushReport, Outbox
from promptsync.watch.watcher import PromptWatcher

# Without the event stream: one small request (the newest audit event) every POLL_INTERVAL; the
# manifest only when it moved, and every FULL_POLL_INTERVAL in case an event was missed.
POLL_INTERVAL = 2.0
FULL_POLL_INTERVAL = 60.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 5.0
_UNKNOWN = object()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class WatchDaemon:
    """The watch loop over one SyncEngine; `start()`, `stop()`, or `step()` from a test."""

    def __init__(
        self,
        engine: SyncEngine,
        *,
        log: Callable[[str], None] = _stderr,
        describe: Callable[[PromptSyncError], str] = str,
        name: Callable[[Path], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = POLL_INTERVAL,
        full_poll_interval: float = FULL_POLL_INTERVAL,
        backoff: tuple[float, float] = (BACKOFF_FIRST, BACKOFF_MAX),
        watcher_options: dict[str, Any] | None = None,
        listen: bool = False,
    ) -> None:
        self.engine = engine
        self.outbox = Outbox(engine)
        self.root = engine.dir
        self.poll_interval = poll_interval
        self.full_poll_interval = full_poll_interval
        self.backoff = backoff
        self.watcher: PromptWatcher | None = None
        self._watcher_options = watcher_options or {}
        # Bad files are named as `lint` names them; by default as seen from the repository root.
        shown = name or (lambda path: Path(os.path.relpath(path, engine.repo.root)).as_posix())
        self.say = EventLog(log, lambda relpath: shown(self.root / relpath))
        self._describe = describe
        self._clock = clock
        self._reconciled = False
        self._down = False
        self._unreachable = False  # why it is down: no answer, or an answer that refused
        self._delay = 0.0
        self._retry_at = -math.inf
        self._poll_at = -math.inf
        self._full_poll_at = -math.inf
        self._last_event: object = _UNKNOWN
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listen = listen
        self.feed: RemoteFeed | None = None
        self.intake = Intake(engine, self.outbox, self.say, self._wake.set, self._why_down)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Reconcile (if the server answers), then start watching and the sync thread."""
        self.step()  # before the watcher: its start-up rescan then finds the state settled
        self.watcher = PromptWatcher(self.root, self.on_change, on_rescan=self.on_rescan,
                                     on_error=self._on_error, log=self.say,
                                     **self._watcher_options)
        self.watcher.start()
        if self._listen and self.engine.api is not None and self.engine.project is not None:
            self.feed = RemoteFeed(self.engine.api, self.engine.project, self._wake.set)
        self._thread = threading.Thread(target=self._run, name="promptsync-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and syncing; what is queued stays in the journal for the next run."""
        self._stopping.set()
        self._wake.set()
        if self.watcher is not None:
            self.watcher.stop()
        if self.feed is not None:
            self.feed.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.step()
            wake = self.next_wake()
            self._wake.wait(None if wake == math.inf else max(0.0, wake - self._clock()))
            self._wake.clear()

    def next_wake(self) -> float:
        """The clock time of the next step: the poll, or the retry while the server is down;
        none while the stream is up (an event, a save or stop() wakes the thread)."""
        if self._down:
            return self._retry_at
        return math.inf if self.feed is not None and self.feed.up else self._poll_at

    # -- the sync thread ---------------------------------------------------------------------

    def step(self) -> None:
        """Reconcile once, send what is queued, poll the server when due; never raises."""
        now = self._clock()
        if self.feed is not None and (why := self.feed.take_end()) is not None:
            self.say(f"live updates off ({why}); polling every {self.poll_interval:g} s")
        if self._down and now < self._retry_at:
            return
        try:
            if not self._reconciled:
                self._reconcile()
            self._sent(self.outbox.flush())
            if self.feed is not None and self.feed.up:
                self._listened(now, self.feed)
            elif now >= self._poll_at or self._down:
                # A retry asks the server again: one that asked nothing (the poll not due yet)
                # would say "server reachable again" of a server that still refuses.
                self._poll_at = now + self.poll_interval
                self._poll(now)
        except PromptSyncError as exc:
            self._failed(exc, now)
            return
        if self._down:
            self.say("server reachable again" if self._unreachable
                     else "the server accepts requests again")
        self._down, self._delay = False, 0.0

    def _why_down(self) -> str | None:
        """What a save queued now waits for, in the words of a line; None while all is well."""
        if not self._down:
            return None
        return ("server unreachable" if self._unreachable
                else "not sent yet (the server refused the last request)")

    def _failed(self, exc: PromptSyncError, now: float) -> None:
        first, cap = self.backoff
        self._delay = min(max(self._delay * 2, first), cap)
        self._retry_at = now + self._delay
        if self._down:
            return  # said once per outage; the retries are silent
        self._down = True
        self._unreachable = isinstance(exc, ServerUnreachable)
        count = self.outbox.count()
        queued = plural(count, "change") if count else "nothing"
        if isinstance(exc, ServerUnreachable):
            self.say(f"server unreachable, {queued} queued; saves wait in the journal")
        else:
            self.say(f"error: {self._describe(exc)} ({queued} queued, retrying)")

    def _newest_event(self) -> object:
        """The id of the project's newest audit event (None if there is none or no feed)."""
        api = self.engine.api
        assert api is not None and self.engine.project is not None
        try:
            events = api.events(self.engine.project, limit=1)
        except ApiError as exc:
            if exc.status in (403, 404):
                return _UNKNOWN  # no feed for this key or server: read the manifest each time
            raise
        return events[0].get("id") if events else None

    def _reconcile(self) -> None:
        """Queue local changes, report bad files and conflicts, pull what the server has newer."""
        self._last_event = self._newest_event()  # first: a change after it shows in the poll
        plan = self.engine.plan()
        self._full_poll_at = self._clock() + self.full_poll_interval
        for action in plan.actions:
            if action.status == Status.INVALID:
                # Keyed by the file's hash as the rescan is, so one bad file is said once.
                key = action.local.sha256 if action.local is not None else ""
                self.say.invalid(action.relpath or f"{action.slug}.yaml", action.problems, key)
            elif action.status == Status.CONFLICT:
                self.say.conflict_of(action)
        # A deletion waits for the watcher's start-up rescan and its grace period (an editor
        # may be mid-save); a rename's new file is queued now and finds the old one missing.
        self.intake.queue([a.local for a in plan.with_status(Status.NEW, Status.MODIFIED,
                                                        Status.RENAMED) if a.local])
        self._sent(self.outbox.flush())
        self._pull(plan)
        self._reconciled = True

    def _listened(self, now: float, feed: RemoteFeed) -> None:
        """Pull what the stream said changed; no request when it said nothing."""
        if not feed.take_change():
            return
        try:
            self._pull_remote(now, _UNKNOWN)  # if the stream drops, the first poll reads all
        except PromptSyncError:
            feed.mark_changed()
            raise

    def _poll(self, now: float) -> None:
        """Pull server-side changes into unmodified files; one small request when none."""
        newest = self._newest_event()
        if newest is not _UNKNOWN and newest == self._last_event and now < self._full_poll_at:
            return
        self._pull_remote(now, newest)

    def _pull_remote(self, now: float, newest: object) -> None:
        """Compare the manifest with the synced state; pull what is newer into unmodified files."""
        remote = self.engine.remote()
        self._last_event, self._full_poll_at = newest, now + self.full_poll_interval
        state = self.engine.reload()
        waiting = self.outbox.slugs()
        paths = []
        for slug, latest in remote.items():
            entry = state.get(slug)
            if latest.archived and (entry is None or entry.archived):
                continue  # archived, and no file of it here: nothing to remove
            if slug in waiting or (entry is not None and entry.previous is None
                                   and not latest.archived and not entry.archived
                                   and (entry.version, entry.sha256)
                                   == (latest.version, latest.sha256)):
                continue
            paths.append(self.root / (entry.path if entry is not None else f"{slug}.yaml"))
        if not paths:
            return
        plan = self.engine.plan(paths)
        for action in plan.with_status(Status.CONFLICT):
            self.say.conflict_of(action)
        self._pull(plan)

    def _pull(self, plan: Plan) -> None:
        waiting = self.outbox.slugs()  # their saves go first; a 409 will tell of a conflict
        behind = [a for a in plan.with_status(Status.BEHIND, Status.ARCHIVED)
                  if a.slug not in waiting]
        if behind:
            self._pulled(self.engine.pull(Plan(behind)))

    def _pulled(self, report: PullReport) -> None:
        self.say.pulled(report)
        if report.error is not None:
            raise report.error

    def _sent(self, report: FlushReport) -> None:
        self.say.sent(report)
        if report.error is not None:
            raise report.error

    # -- the watcher's thread ----------------------------------------------------------------

    def on_change(self, paths: list[Path]) -> None:
        """Judge the files the watcher delivered; queue the changed, valid ones."""
        self.intake.changed(paths)

    def on_rescan(self) -> None:
        """Events may have been lost: judge every file changed since it was last judged."""
        self.intake.rescan(self.watcher.recheck if self.watcher is not None else None)

    def _on_error(self, exc: BaseException) -> None:
        text = self._describe(exc) if isinstance(exc, PromptSyncError) else repr(exc)
        self.say(f"watch: {text}")

