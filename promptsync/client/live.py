"""One event stream read on a background thread: reconnects with backoff, resumes by event id.

``LiveStream`` GETs /events/stream (SPEC §12) with http.client, whose socket is ours to shut
down from close() at any moment (httpx hides it until the answer's headers came), parses it
with client/sse.py and calls back: on each event, when the stream is up (``resumed``: the server
was asked to replay from the last id, so nothing was missed), and when it is down. A refused
connection or a dropped stream is tried again after 0.5 s (or the server's ``retry``), doubling
to 30 s (reset by a stream that came up); 401, 403, 404, 405 and 410 end it for good (no stream
on this server, or no right to it) and the caller keeps polling. So does an ``event: error``,
the server's last frame when the caller lost access while the stream was open (a key revoked,
a member removed, a session ended): ``error`` then holds the ApiError a GET would raise.
An end for good is told to ``on_end`` when given (the caller says it its own way), else logged.
The wait is the ``sleep`` seam (tests pass a fake); ``close()`` wakes it and shuts the socket so
a blocked read ends at once; an atexit hook closes every stream still open.
"""

from __future__ import annotations

import atexit
import http.client
import json
import logging
import socket
import threading
import weakref
from collections.abc import Callable
from urllib.parse import urlsplit

from promptsync.client.sse import SseEvent, SseParser
from promptsync.errors import ApiError

__all__ = ["LiveStream", "changed_slugs"]

log = logging.getLogger(__name__)

FATAL_STATUSES = frozenset({401, 403, 404, 405, 410})
BASE_DELAY = 0.5
MAX_DELAY = 30.0
# Three of the server's 15 s keep-alives missed: the connection is dead though no RST came.
IDLE_TIMEOUT = 45.0
# Events after which a slug's latest or labels may answer differently (webapi/services).
CHANGES = ("version.", "label.", "prompt.")

_open: weakref.WeakSet[LiveStream] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """At interpreter exit, end every stream a program did not close."""
    for stream in list(_open):
        stream.close()


class LiveStream:
    """A daemon thread reading one SSE URL until ``close()``."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        on_event: Callable[[SseEvent], None],
        on_up: Callable[[bool], None],
        on_down: Callable[[], None],
        *,
        on_end: Callable[[LiveStream], None] | None = None,
        connect_timeout: float = 5.0,
        idle_timeout: float = IDLE_TIMEOUT,
        sleep: Callable[[float], object] | None = None,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self.url = url
        self._headers = {**headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        self._on_event, self._on_up, self._on_down = on_event, on_up, on_down
        self._on_end = on_end  # told when the stream ends for good; it then says so itself
        self._stop = threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self.base_delay, self.max_delay = base_delay, max_delay
        self.delays: list[float] = []  # every wait before a reconnect, for whoever looks
        self.last_id = ""
        self.up = False
        self.ended: str | None = None  # why the stream ended for good, when it did
        self.error: ApiError | None = None  # the server's refusal, when that was why
        self.connect_timeout, self.idle_timeout = connect_timeout, idle_timeout
        self._socket: socket.socket | None = None
        self._socket_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="promptsync-live", daemon=True)
        _open.add(self)
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                came_up = False
                try:
                    came_up = self._read()
                except _Fatal as exc:
                    self.ended, self.error = str(exc), exc.error
                    if self._on_end is None:
                        log.warning("promptsync: live updates off: %s", exc)
                    else:
                        self._on_end(self)
                    return
                except (http.client.HTTPException, OSError, ValueError) as exc:
                    if not self._stop.is_set():
                        log.info("promptsync: event stream lost (%s); reconnecting", exc)
                finally:
                    self._set_down()
                if self._stop.is_set():
                    return
                failures = 0 if came_up else failures + 1
                delay = min(self.max_delay, self.base_delay * 2 ** max(0, failures - 1))
                self.delays.append(delay)
                self._sleep(delay)
        finally:
            self._set_down()

    def _read(self) -> bool:
        """One connection, read to its end; True when it came up (a 200 event stream)."""
        headers = dict(self._headers)
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        conn = _connection(self.url, self.connect_timeout)
        try:
            conn.connect()
            with self._socket_lock:
                if self._stop.is_set():
                    return False
                self._socket = conn.sock
            conn.sock.settimeout(self.idle_timeout)
            parts = urlsplit(self.url)
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                         headers=headers)
            response = conn.getresponse()
            if response.status in FATAL_STATUSES:
                try:
                    body = response.read(65536)
                except (http.client.HTTPException, OSError):
                    body = b""  # the status says enough
                error = _refusal(response.status, body)
                raise _Fatal(f"{self.url} answered {response.status}: {error.detail}", error)
            kind = response.getheader("Content-Type", "")
            if response.status != 200 or not kind.startswith("text/event-stream"):
                raise ValueError(f"{self.url} answered {response.status} {kind}")
            parser = SseParser()
            parser.last_id = self.last_id  # an event without an id keeps the one we had
            self.up = True
            self._on_up(bool(self.last_id))
            while chunk := response.read1(65536):
                for item in parser.feed(chunk):
                    if isinstance(item, SseEvent) and item.type == "error":
                        # Access ended while the stream was open: reconnecting cannot help.
                        error = _refusal(0, item.data.encode())
                        raise _Fatal(f"{self.url} ended the stream: {error}", error)
                    if isinstance(item, SseEvent):
                        self.last_id = item.last_id
                        self._on_event(item)
                if parser.retry_ms is not None:
                    self.base_delay = parser.retry_ms / 1000
                if self._stop.is_set():
                    break
            return True
        finally:
            conn.close()

    def _set_down(self) -> None:
        with self._socket_lock:
            self._socket = None
        if self.up:
            self.up = False
            self._on_down()

    def close(self, timeout: float = 5.0) -> None:
        """End the thread: wake its wait, cut its connection, and wait for it."""
        with self._socket_lock:
            self._stop.set()
            sock = self._socket
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # a read blocked in recv() returns at once
                except OSError:
                    pass
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        _open.discard(self)

    @property
    def alive(self) -> bool:
        """Whether the reading thread still runs."""
        return self._thread.is_alive()


def changed_slugs(event: SseEvent) -> set[str] | None:
    """The slugs whose latest or labels an event may have changed; None for every slug (an
    import); an empty set for events about no prompt (keys, members, promotions, webhooks)."""
    if event.type == "project.imported":
        return None
    if not event.type.startswith(CHANGES):
        return set()
    try:
        data = json.loads(event.data)
    except ValueError:
        log.warning("promptsync: event %s is not JSON; ignored", event.last_id)
        return set()
    if not isinstance(data, dict):
        return set()
    details = data.get("details")
    # A rename names the new slug, and the old one in details["from"].
    old = details.get("from") if isinstance(details, dict) else None
    return {slug for slug in (data.get("slug"), old) if isinstance(slug, str)}


class _Fatal(Exception):
    """An answer that no reconnect will change."""

    def __init__(self, message: str, error: ApiError | None = None) -> None:
        super().__init__(message)
        self.error = error


def _refusal(status: int, body: bytes) -> ApiError:
    """The ApiError of an error body ({"error", "detail", …}), as a request raises it (client/
    transport.py); an `event: error` names its status in the body."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        text = body.decode("utf-8", "replace").strip()[:200]
        return ApiError(status, "http_error", text or f"the server answered {status}")
    if isinstance(data.get("status"), int):
        status = data["status"]
    return ApiError(status, data["error"], str(data.get("detail") or ""), data)


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    """An unopened connection to the URL's host (https verified by the default context)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Fatal(f"cannot stream from {url}")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return kind(parts.hostname, parts.port, timeout=timeout)
