"""A graceful stop of gunicorn (gthread, -c python:webapi.ops.gunicorn_conf) with event streams
and a long poll open: every worker exits at once, not at its graceful timeout; each stream ends
cleanly with the goodbye comment, the long poll answers [], and the client's reader resumes on
the next server with Last-Event-ID and misses nothing. SIGTERM (a stop) and SIGHUP (a reload)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptsync.client.live import LiveStream
from tests.support.live import create_account, create_key, group_alive
from tests.support.logged_gunicorn import STREAM_ENV, LoggedGunicorn
from tests.support.sse import StreamReader
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery"
GRACEFUL_TIMEOUT = 30  # s: gunicorn's default; before the fix every stop took this long
EXIT_BOUND = 10.0  # s: well under it, well over gunicorn's own shutdown on a loaded machine
GOODBYE = "server stopping, reconnect"


class Graceful(LoggedGunicorn):
    """Two gthread workers with the project's gunicorn config and a 30 s graceful timeout."""

    def command(self) -> list[str]:
        argv = super().command()
        argv[argv.index("--graceful-timeout") + 1] = str(GRACEFUL_TIMEOUT)
        assert self.project_config  # its hooks are under test
        return argv


@dataclass
class Client:
    """The SDK's stream reader, its events, and a gate that holds its reconnect until opened."""

    stream: LiveStream
    ids: list[int] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)


@dataclass
class Stack:
    server: Graceful
    key: str
    readers: list[StreamReader]
    client: Client

    def push(self, slug: str, text: str) -> None:
        response = httpx.post(f"{self.server.url}/api/v1/projects/demo/prompts/{slug}",
                              json={"source": f"template: {text}\n"},
                              headers={"X-API-Key": self.key}, timeout=10)
        assert response.status_code == 201, response.text

    def event_ids(self) -> list[int]:
        response = httpx.get(f"{self.server.url}/api/v1/projects/demo/events?after=0&limit=1000",
                             headers={"X-API-Key": self.key}, timeout=10)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["events"]]


def _client(url: str, key: str, gated: bool) -> Client:
    ids: list[int] = []
    gate = threading.Event()

    def sleep(delay: float) -> None:
        # The wait before a reconnect: held until the test has made the next server's events,
        # then a tenth of a second at most (the server's retry is 1 s; a wait is all it tests).
        gate.wait(30)
        time.sleep(min(delay, 0.1))

    # ?after=0: every event of the project, so "every event" is the whole audit log. The
    # callbacks take nothing from the Client: its thread may call them before it is made.
    stream = LiveStream(f"{url}/api/v1/projects/demo/events/stream?after=0", {"X-API-Key": key},
                        lambda event: ids.append(int(event.last_id)), lambda resumed: None,
                        lambda: None, sleep=sleep if gated else None)
    return Client(stream, ids, gate)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The server, four open streams (both routes), and the SDK's reader, all up."""
    # Keep-alives every 0.25 s, not 1 s: a stream the client closed ends (and is in the access
    # log) at the next one.
    server = Graceful(tmp_path / "server", workers=2,
                      env={**STREAM_ENV, "METRICS_ENABLED": "true",
                           "LIVE_KEEPALIVE_SECONDS": "0.25"}).start()
    readers: list[StreamReader] = []
    client: Client | None = None
    try:
        create_account(server.url, "ann@example.com", PASSWORD, "demo")
        key = create_key(server.url, "ann@example.com", PASSWORD, "demo")
        routes = ["/api/v1/projects/demo/events/stream", "/api/v1/events/stream"] * 2
        readers = [StreamReader(server.url + route, {"X-API-Key": key}) for route in routes]
        client = _client(server.url, key, gated=True)
        stack = Stack(server, key, readers, client)
        stack.push("greeting", "Hello.")
        wait_until(lambda: all(r.received.comments for r in readers), 10, "streams open")
        wait_until(lambda: client is not None and client.ids == stack.event_ids(), 10,
                   "the client has every event")
        yield stack
    finally:
        if client is not None:
            client.gate.set()
            client.stream.close()
        server.stop()
        for reader in readers:
            reader.close()


def _long_poll(stack: Stack, answers: list[tuple[int, Any, float]]) -> threading.Thread:
    """A long poll for what comes after the newest event (30 s), answered into `answers`."""
    after = stack.event_ids()[-1]

    def run() -> None:
        began = time.monotonic()
        try:
            response = httpx.get(f"{stack.server.url}/api/v1/projects/demo/events",
                                 params={"after": after, "wait": 30},
                                 headers={"X-API-Key": stack.key}, timeout=60)
        except httpx.HTTPError as exc:  # cut by the server: no answer
            answers.append((0, repr(exc), time.monotonic() - began))
            return
        answers.append((response.status_code, response.json(), time.monotonic() - began))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    # It waits in the hub: one subscriber more than the streams (the readers and the client's).
    wait_until(lambda: _subscribers(stack.server) == len(stack.readers) + 2, 10,
               "the long poll waits in the hub")
    return thread


def _subscribers(server: Graceful) -> float:
    """The live subscribers of every worker, from /metrics."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    line = next(line for line in text.splitlines()
                if line.startswith("promptsync_live_subscribers "))
    return float(line.split()[1])


def _ended_cleanly(readers: list[StreamReader]) -> None:
    for reader in readers:
        got = reader.received
        assert got.ended and got.failure is None, got.failure  # a clean end, not a cut
        assert got.comments[-1] == GOODBYE and not got.errors


def test_sigterm_ends_streams_and_long_poll_and_every_worker_exits_at_once(
        stack: Stack) -> None:
    server = stack.server
    assert server.process is not None
    master, workers = server.process, server.worker_pids()
    assert len(workers) == 2
    answers: list[tuple[int, Any, float]] = []
    poll = _long_poll(stack, answers)

    os.kill(master.pid, signal.SIGTERM)
    wait_until(lambda: master.poll() is not None and not group_alive(master.pid), EXIT_BOUND,
               lambda: f"gunicorn gone (workers {workers}); log: {server.log()}")
    server.process = None  # gone: nothing left for stop() to end

    poll.join(5)
    assert answers and answers[0][:2] == (200, {"events": [], "next": None})
    assert answers[0][2] < EXIT_BOUND
    wait_until(lambda: all(r.received.ended for r in stack.readers), 5, "the readers ended")
    _ended_cleanly(stack.readers)
    seen = list(stack.client.ids)
    assert not stack.client.stream.up and stack.client.stream.ended is None  # will reconnect

    # The next server on the same port and database; events happen before the client is back.
    server.restart_on_same_port()
    stack.push("greeting", "Hello again.")
    stack.push("farewell", "Bye.")
    stack.client.gate.set()
    wait_until(lambda: stack.client.ids == stack.event_ids(), 15,
               lambda: f"the client resumed: {stack.client.ids} vs {stack.event_ids()}")
    stack.client.stream.close()  # a stream is in the access log once it ends

    def resumed() -> list[str]:
        return [last for method, path, last, _ in server.requests()
                if method == "GET" and path.endswith("/events/stream") and last != "-"]

    wait_until(resumed, 10, "the reconnect in the access log")
    assert resumed() == [str(seen[-1])]  # one reconnect, from the last event it had


def test_reload_retires_the_old_workers_at_once_and_streams_resume(stack: Stack) -> None:
    server = stack.server
    assert server.process is not None
    old = server.worker_pids()
    stack.client.gate.set()  # reconnect as soon as the stream ends, to the new workers

    os.kill(server.process.pid, signal.SIGHUP)
    wait_until(lambda: not set(old) & set(server.worker_pids()), EXIT_BOUND,
               lambda: f"old workers {old} gone; log: {server.log()}")
    assert server.process.poll() is None  # the master serves on
    wait_until(lambda: all(r.received.ended for r in stack.readers), 5, "the readers ended")
    _ended_cleanly(stack.readers)

    wait_until(lambda: stack.client.stream.up, 15, "the client reconnected")
    stack.push("greeting", "After the reload.")
    wait_until(lambda: stack.client.ids == stack.event_ids(), 15, "the client has every event")
