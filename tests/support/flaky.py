"""An HTTP front on 127.0.0.1 for a real server that plays its transient failures: closed, it
refuses connections; told to, it answers the next requests 503 itself, or forwards them and
answers 502 in place of the server's answer (as a proxy that gave up waiting would)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx

from tests.support.live import free_port

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


@dataclass
class _Failure:
    method: str | None  # None: any
    path: str  # a prefix of the path it fails
    status: int
    forward: bool  # the server gets the request (and acts on it) before the failure answer
    retry_after: str | None


class FlakyFront:
    """Forwards 127.0.0.1:<port> to ``target`` (a base URL); ``open()`` to accept connections,
    ``fail_next()`` to fail requests; ``seen`` lists "METHOD path status" of each answer."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[str] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._upstream = httpx.Client(timeout=30)

    def fail_next(self, count: int, *, method: str | None = None, path: str = "/",
                  status: int = 503, forward: bool = False, retry_after: str | None = None
                  ) -> None:
        """Fail the next ``count`` requests (of ``method`` and under ``path``, if given) with
        ``status``, after forwarding them to the server if ``forward``."""
        with self._lock:
            self._failures += [_Failure(method, path, status, forward, retry_after)] * count

    def _failure_for(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method in (None, method) and path.startswith(failure.path):
                    self._failures.remove(failure)
                    return failure
        return None

    def open(self) -> None:
        """Accept connections on ``port`` (until then, or after ``close()``, they are refused)."""
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                front._answer(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="flaky-front",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        failure = self._failure_for(handler.command, handler.path)
        status, headers, content = 0, [("Content-Type", "application/json")], b""
        if failure is None or failure.forward:
            sent = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            answer = self._upstream.request(handler.command, self.target + handler.path,
                                            headers=sent, content=body)
            status, content = answer.status_code, answer.content
            headers = [(k, v) for k, v in answer.headers.multi_items()
                       if k.lower() not in _HOP_BY_HOP]
        if failure is not None:
            status, headers = failure.status, [("Content-Type", "application/json")]
            content = (b'{"error": "unavailable", "detail": "The front answered %d."}'
                       % failure.status)
            if failure.retry_after is not None:
                headers.append(("Retry-After", failure.retry_after))
        self.seen.append(f"{handler.command} {handler.path.split('?')[0]} {status}")
        handler.send_response(status)
        for name, value in headers + [("Content-Length", str(len(content)))]:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(content)

    def close(self) -> None:
        """Stop accepting: new connections are refused again."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FlakyFront:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
        self._upstream.close()


@contextmanager
def flaky_front(target: str, *, opened: bool = True) -> Iterator[FlakyFront]:
    """A FlakyFront for the length of a block, accepting connections unless ``opened=False``."""
    with FlakyFront(target) as front:
        if opened:
            front.open()
        yield front
