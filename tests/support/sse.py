"""A test's own Server-Sent Events reader (apart from the client's): a stream read on a thread."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Received:
    """What one stream delivered: events (id, action, data), comment lines, and the data of
    `event: error` frames (which carry no id), in order."""

    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    content_type: str = ""
    ended: bool = False
    failure: str | None = None  # why the read failed, when the stream did not end cleanly

    def ids(self) -> list[int]:
        return [int(e["id"]) for e in self.events]


class StreamReader:
    """GET url as a stream on a daemon thread, parsing SSE; close() drops the connection at the
    next line the server sends (serve with a short LIVE_KEEPALIVE_SECONDS)."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float = 30.0) -> None:
        self.url, self.headers = url, headers
        self.received = Received()
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-sse", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        got = self.received
        try:
            with self._client.stream("GET", self.url, headers=self.headers) as response:
                got.status, got.content_type = response.status_code, response.headers.get(
                    "content-type", "")
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        break
                    if line.startswith(":"):
                        got.comments.append(line[1:].strip())
                    elif line == "":
                        if "data" in fields and fields.get("event") == "error":
                            got.errors.append(json.loads(fields["data"]))
                        elif "data" in fields:
                            got.events.append({"id": int(fields["id"]), "action": fields["event"],
                                               "data": json.loads(fields["data"])})
                        fields = {}
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
        except (httpx.HTTPError, RuntimeError) as exc:
            got.failure = repr(exc)  # closed by the test, or cut by the server
        finally:
            got.ended = True

    def close(self) -> None:
        """Drop the connection (as a lost network would) and wait for the reader to stop."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close()
        assert not self._thread.is_alive(), "the stream reader did not stop"

    def __enter__(self) -> StreamReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
