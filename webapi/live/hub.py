"""One hub per app and process: tails the events table and fans new events out to subscribers.

One thread, started by the first subscriber, waits on a wake-up: a Postgres NOTIFY (any
process committed an event), a commit in this process, or on SQLite a short poll (another
process on the same host). It then reads the events after its watermark and offers each to the
subscribers of its project, in id order. A slow subscriber never blocks it: its bounded queue
drops it (subscriber.py). The thread ends when nobody has subscribed for `linger` seconds.
When the process stops (stop_all, called by gunicorn's worker as it begins a graceful stop:
live/graceful.py), every subscriber is ended, now and from then on, so no open stream or long
poll holds the process until its graceful timeout.

Gap-free on Postgres: ids come from a sequence, so a transaction may commit id 11 before
another commits 10. An id missing below a visible one (a hole) holds the watermark until it
appears, or until a read whose snapshot's xmin has passed the xmax of the read that first
missed it still misses it: every transaction running then had ended, so it was rolled back.
(A transaction holds its xid before it draws an event id: events are logged after its first
write.)
"""

from __future__ import annotations

import logging
import select
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from webapi.live import tail
from webapi.live.notify import PgListener, Waker
from webapi.live.subscriber import Subscriber

log = logging.getLogger(__name__)

_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()
_STOPPING = threading.Event()  # the process is stopping: every subscriber ends (stop_all)
HOLE_RECHECK = 0.02  # s between reads while a hole may still be filled by a running transaction
SAFETY_TAIL = 30.0  # s: on Postgres, read anyway in case a notification was lost
RETRY = 1.0  # s after a failed read or a lost LISTEN connection


@dataclass(frozen=True)
class Settings:
    """The hub's knobs (config: LIVE_POLL_SECONDS, LIVE_QUEUE_SIZE, LIVE_LINGER_SECONDS)."""

    poll: float = 0.5  # SQLite only: how often other processes' commits are looked for
    queue_size: int = 1000
    linger: float = 10.0


def wake_all() -> None:
    """Wake every running hub of this process (a local commit logged an event)."""
    for hub in list(_HUBS):
        hub.wake()


def stop_all() -> None:
    """The process is stopping: end every subscriber of every hub, and each one made later."""
    _STOPPING.set()
    for hub in list(_HUBS):
        hub.stop()


def stopping() -> bool:
    """Whether stop_all was called in this process."""
    return _STOPPING.is_set()


class Hub:
    """Subscribers per project, the watermark, and the thread that feeds them."""

    def __init__(self, engine: Engine, settings: Settings,
                 counted: Callable[[int], None] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self._counted = counted  # told +1 / -1 as subscribers come and go (ops/metrics.py)
        self.postgres = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[Subscriber]] = {}
        self._mark = 0  # every event up to here was delivered (or is a rolled-back id)
        self._holes: dict[int, int] = {}  # missing id -> xmax when it was first missed
        self._thread: threading.Thread | None = None
        self._waker: Waker | None = None  # the thread's: made with it, closed when it ends
        self.reads = 0  # tail reads done (tests and the benchmark look)
        _HUBS.add(self)

    # -- subscribers -------------------------------------------------------------------------

    def subscribe(self, project_id: int) -> tuple[Subscriber, int]:
        """A new subscriber and the watermark: events after it reach the subscriber, events up
        to it are in the table for the caller to replay."""
        subscriber = Subscriber(project_id, self.settings.queue_size)
        with self._lock:
            if self._thread is None:
                # Read under the lock: nothing is delivered before the thread runs.
                self._mark, self._holes = tail.newest_id(self.engine), {}
                self._waker = Waker()
                self._thread = threading.Thread(target=self._run, name="promptsync-live-hub",
                                                daemon=True)
                self._thread.start()
            self._subscribers.setdefault(project_id, set()).add(subscriber)
            mark = self._mark
            if _STOPPING.is_set():  # under the lock: stop() either saw this one or ends it here
                subscriber.end()  # a request taken before the stop began ends at once
        if self._counted is not None:
            self._counted(1)
        return subscriber, mark

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop feeding a subscriber."""
        removed = False
        with self._lock:
            group = self._subscribers.get(subscriber.project_id)
            if group is not None and subscriber in group:
                group.discard(subscriber)
                removed = True
                if not group:
                    del self._subscribers[subscriber.project_id]
        if removed and self._counted is not None:
            self._counted(-1)
        if not self._subscribers:
            self.wake()  # the thread starts its linger

    def stop(self) -> None:
        """End every subscriber now (a stream says goodbye, a long poll answers)."""
        with self._lock:
            subscribers = [s for group in self._subscribers.values() for s in group]
        for subscriber in subscribers:
            subscriber.end()

    def count(self) -> int:
        """How many subscribers are fed now."""
        with self._lock:
            return sum(len(group) for group in self._subscribers.values())

    def wake(self) -> None:
        """Read the table now (any thread); nothing when the thread is not running."""
        waker = self._waker
        if waker is not None:
            waker.wake()

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        listener: PgListener | None = None
        waker: Waker | None = None
        idle_since: float | None = None
        while True:
            now = time.monotonic()
            with self._lock:
                if self._subscribers:
                    idle_since = None
                elif idle_since is None:
                    idle_since = now
                elif now - idle_since >= self.settings.linger:
                    self._thread = None  # a subscribe from now on starts a new thread
                    waker, self._waker = self._waker, None
                    break
            try:
                if self.postgres and listener is None:
                    listener = PgListener(self.engine)
                    self._tail()  # what committed before LISTEN took effect
                timeout = self._timeout(idle_since, now)
                ready = self._wait(listener, timeout)
                if listener is not None and listener in ready:
                    listener.drain()
                self._tail()
            except Exception:  # noqa: BLE001 - the hub must outlive a database outage
                log.exception("live: reading events failed; retrying in %.0f s", RETRY)
                if listener is not None:
                    listener.close()
                    listener = None
                self._wait(None, RETRY)
        if listener is not None:
            listener.close()
        if waker is not None:
            waker.close()

    def _timeout(self, idle_since: float | None, now: float) -> float:
        if self._holes:
            timeout = HOLE_RECHECK
        elif self.postgres:
            timeout = SAFETY_TAIL
        else:
            timeout = self.settings.poll
        if idle_since is not None:
            timeout = min(timeout, max(0.0, self.settings.linger - (now - idle_since)))
        return timeout

    def _wait(self, listener: PgListener | None, timeout: float) -> list[Any]:
        waker = self._waker
        assert waker is not None  # only the running thread waits, and it owns the waker
        sources: list[Any] = [waker] + ([listener] if listener is not None else [])
        ready, _, _ = select.select(sources, [], [], timeout)
        if waker in ready:
            waker.drain()
        return ready

    def _tail(self) -> None:
        """Read every event after the watermark; deliver those with no hole before them."""
        while True:
            rows, xmin, xmax = tail.read_tail(self.engine, self._mark, self.postgres)
            self.reads += 1
            if not self._deliver(rows, xmin, xmax) or len(rows) < tail.PAGE:
                return

    def _deliver(self, rows: list[tuple[int, dict[str, Any]]], xmin: int, xmax: int) -> bool:
        """Deliver rows in id order up to the first live hole; False when a hole stops it."""
        with self._lock:
            for project_id, event in rows:
                while self._mark + 1 < event["id"]:
                    missing = self._mark + 1
                    if self.postgres:
                        seen_at = self._holes.setdefault(missing, xmax)
                        if xmin < seen_at:
                            return False  # its transaction may still commit: wait for it
                    self._holes.pop(missing, None)
                    self._mark = missing  # rolled back (or, on SQLite, never to come)
                self._mark = event["id"]
                self._holes.pop(self._mark, None)
                for subscriber in list(self._subscribers.get(project_id, ())):
                    if not subscriber.offer(event):
                        self._subscribers[project_id].discard(subscriber)
                        if not self._subscribers[project_id]:
                            del self._subscribers[project_id]
            return True
