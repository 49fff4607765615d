"""A webhook receiver on a loopback port for tests: it records every request, checks every
signature, and can answer 500 or be down (connections refused) for a while."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from webapi.webhooks import signing


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, and what it answered."""

    delivery_id: str
    action: str
    event: dict[str, Any]
    signed: bool  # the signature matched the secret, timestamp and body
    answered: int
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    body: bytes = field(default=b"", compare=False)


@dataclass
class Receiver:
    """ThreadingHTTPServer on 127.0.0.1; `status` is what it answers (200 by default)."""

    secret: str
    status: int = 200
    delay: float = 0.0  # seconds each answer takes
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?token=t"

    def up(self) -> None:
        """Listen (on the same port as before, once there was one)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sent = self.headers.get(signing.SIGNATURE_HEADER, "")
                signed = signing.verify(receiver.secret,
                                        self.headers.get(signing.TIMESTAMP_HEADER, ""),
                                        body, sent, time.time())
                if receiver.delay:
                    time.sleep(receiver.delay)  # a slow receiver, not a wait for a condition
                status = receiver.status
                with receiver._lock:
                    receiver.received.append(Received(
                        self.headers.get(signing.DELIVERY_HEADER, ""),
                        self.headers.get(signing.EVENT_HEADER, ""), json.loads(body), signed,
                        status, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="webhook-receiver", daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections to the port are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self) -> list[Received]:
        """The requests answered 2xx, in the order they arrived."""
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)


class Clock:
    """Naive-UTC time that moves only when told: the worker's backoff without real waits."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta
