"""The project's event stream for `promptsync watch`: tells the sync thread when the server changed.

While the stream is up the sync thread sends no polling request: it sleeps until an event that
may change a prompt file (client/live.changed_slugs, label moves aside) or a stream that came up
without a replay (the first, or one with no id to resume from) marks the server changed and
wakes it. While it is down, or on a server without streams (404/405 end the reader for good),
the daemon polls as before. Why the stream ended for good (a server without streams, a revoked
key) is kept for the daemon to say once, in watch's words (``take_end``).
The reader (client/live.LiveStream) resumes by Last-Event-ID and reconnects with backoff.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from promptsync.client.api import ApiClient
from promptsync.client.live import LiveStream, changed_slugs
from promptsync.client.sse import SseEvent
from promptsync.client.transport import segment

__all__ = ["RemoteFeed"]


class RemoteFeed:
    """One stream reader thread; ``up`` while connected, ``take_change()`` once per change."""

    def __init__(self, api: ApiClient, project: str, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._lock = threading.Lock()
        self._changed = False
        self._ended: str | None = None
        self.up = False
        url, headers = api.url_and_headers(f"/projects/{segment(project)}/events/stream")
        self._stream = LiveStream(url, headers, self._on_event, self._on_up, self._on_down,
                                  on_end=self._on_end)

    def take_change(self) -> bool:
        """Whether the server may have changed since the last call (and forget it)."""
        with self._lock:
            changed, self._changed = self._changed, False
        return changed

    def take_end(self) -> str | None:
        """Why the stream ended for good, once (then None): e.g. the server refused it."""
        with self._lock:
            ended, self._ended = self._ended, None
        return ended

    def mark_changed(self) -> None:
        """Look again at the next step (a pull that failed must not lose the change)."""
        with self._lock:
            self._changed = True

    def close(self) -> None:
        """End the reader thread and its connection."""
        self._stream.close()
        self.up = False

    def _on_event(self, event: SseEvent) -> None:
        # A label move changes no file: only versions, archives, restores, renames, imports.
        if not event.type.startswith("label.") and changed_slugs(event) != set():
            self._changed_now()

    def _on_up(self, resumed: bool) -> None:
        if not resumed:  # what changed before it connected is not replayed: look once
            with self._lock:
                self._changed = True
        self.up = True
        self._wake()

    def _on_down(self) -> None:
        self.up = False
        self._wake()  # back to polling at once

    def _on_end(self, stream: LiveStream) -> None:
        error = stream.error
        if error is None:
            why = stream.ended or "the stream ended"
        elif error.status in (401, 403):
            why = f"the server refused the event stream: {error.detail.rstrip('.')}"
        else:  # an older server without the route, or a project the key cannot see
            why = f"no event stream on the server, {error.status}: {error.detail.rstrip('.')}"
        with self._lock:
            self._ended = why
        self._wake()  # said now, not at the next poll

    def _changed_now(self) -> None:
        with self._lock:
            self._changed = True
        self._wake()
