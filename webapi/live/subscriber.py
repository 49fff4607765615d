"""One subscriber's bounded queue: the hub offers, the stream or long-poll takes."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


class Subscriber:
    """Events of one project for one reader; dropped (never blocking the hub) when full."""

    def __init__(self, project_id: int, limit: int) -> None:
        self.project_id = project_id
        self.limit = limit
        self.dropped = False  # the reader fell `limit` events behind: it must resume by id
        self.ended = False  # the process is stopping: the reader ends now (hub.stop_all)
        self._items: deque[dict[str, Any]] = deque()
        self._ready = threading.Condition()

    def offer(self, event: dict[str, Any]) -> bool:
        """Queue an event (the hub's thread); False, and the subscriber dropped, when full."""
        with self._ready:
            if self.dropped:
                return False
            if len(self._items) >= self.limit:
                # The hub never waits for a slow reader: this one is cut off and resumes with
                # Last-Event-ID, which replays from the table what it had not read.
                self.dropped = True
                self._items.clear()
                self._ready.notify_all()
                return False
            self._items.append(event)
            self._ready.notify_all()
            return True

    def end(self) -> None:
        """Tell the reader to end (any thread): a take() waiting returns at once."""
        with self._ready:
            self.ended = True
            self._ready.notify_all()

    def take(self, timeout: float) -> list[dict[str, Any]]:
        """Every queued event, waiting up to `timeout` s for one; what is queued (maybe []) at
        once when dropped or ended."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while not self._items and not self.dropped and not self.ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._ready.wait(left)
            items = list(self._items)
            self._items.clear()
            return items
