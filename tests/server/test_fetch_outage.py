"""A key fetch while the database host never answers waits the connect timeout once: the fast
path's failed connect is the request's answer (the §5 503), the general path does not try again."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from tests.support.app import running_app
from tests.support.black_hole import BlackHole
from webapi.extensions import db

TIMEOUT = 2  # DATABASE_CONNECT_TIMEOUT: libpq's least (1 counts as 2)
HANG = 20.0  # far above any bound below: only a hang gets this far
KEY = {"X-API-Key": "psk_abcdef12_" + "x" * 32}
FETCHES = ["/api/v1/prompts/support/greeting", "/api/v1/projects/demo/prompts/support/greeting",
           "/api/v1/prompts/support/greeting?label=production"]


@dataclass
class Fetched:
    """One fetch's response, its seconds, and what its own thread connected and logged."""

    response: Any = None
    seconds: float = 0.0
    attempts: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ByThread(logging.Handler):
    """Keeps each WARNING record's message under the thread that logged it."""

    def __init__(self, fetched: dict[int, Fetched]) -> None:
        super().__init__(logging.WARNING)
        self.fetched = fetched

    def emit(self, record: logging.LogRecord) -> None:
        # Any other thread's warning is kept too: fetch_all fails on it.
        self.fetched.setdefault(record.thread or 0, Fetched()).warnings.append(record.getMessage())


@contextmanager
def counted(app: Flask, fetched: dict[int, Fetched]) -> Iterator[None]:
    """Every DBAPI connect (the pool's and the fetch's own alike) and WARNING, by thread."""
    def connecting(*_: Any) -> None:
        # Any other thread's connect is kept too: fetch_all fails on it.
        fetched.setdefault(threading.get_ident(), Fetched()).attempts.append(time.monotonic())

    root, handler = logging.getLogger(), ByThread(fetched)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    with app.app_context():
        event.listen(db.engine, "do_connect", connecting)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def fetch_all(app: Flask, requests: list[tuple[str, str]]) -> list[Fetched]:
    """Each (method, path) on a thread of its own, all at once; fails on any still waiting."""
    fetched: dict[int, Fetched] = {}
    ready = threading.Event()

    def send(method: str, path: str) -> None:
        ready.wait(HANG)  # fetched holds every thread before any connects
        mine = fetched[threading.get_ident()]
        started = time.monotonic()
        mine.response = app.test_client().open(path, method=method, headers=KEY)
        mine.seconds = time.monotonic() - started

    workers = [threading.Thread(target=send, args=request, daemon=True) for request in requests]
    with counted(app, fetched):
        for worker in workers:
            worker.start()
            assert worker.ident is not None
            fetched[worker.ident] = Fetched()
        ready.set()
        for worker in workers:
            worker.join(HANG)
    results = [fetched.pop(worker.ident) for worker in workers if worker.ident is not None]
    assert not fetched, f"connected or warned outside the requests: {fetched}"
    assert all(r.response is not None for r in results), \
        f"no answer within {HANG} s: the connection attempt is not bounded"
    return results


@pytest.fixture(scope="module")
def outage_fetches() -> dict[str, Fetched]:
    """FETCHES sent at once to an app whose Postgres host accepts TCP and never answers."""
    # One connect timeout serves the three paths: each request has its own thread, so its own
    # connection attempts, time and warning, counted apart (6 s of waiting became 2 s).
    with BlackHole() as hole, running_app(hole.postgres_url(),
                                          DATABASE_CONNECT_TIMEOUT=TIMEOUT) as app:
        return dict(zip(FETCHES, fetch_all(app, [("GET", path) for path in FETCHES]),
                        strict=True))


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound and never listening: each connect to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # held, so no one else listens there meanwhile
        yield int(sock.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.parametrize("path", FETCHES)
def test_a_fetch_in_an_outage_waits_the_connect_timeout_once(
        outage_fetches: dict[str, Fetched], path: str) -> None:
    fetched = outage_fetches[path]
    response, seconds = fetched.response, fetched.seconds
    assert response.status_code == 503, response.data
    assert response.get_json() == {"error": "unavailable",
                                   "detail": "The database is unavailable; try again shortly."}
    assert response.headers["Retry-After"] == "2"
    assert len(fetched.attempts) == 1, f"{len(fetched.attempts)} connection attempts for one fetch"
    # Each attempt waits TIMEOUT at least: two waits could not answer under 2 × TIMEOUT.
    assert seconds < 2 * TIMEOUT, f"answered after {seconds:.1f} s"
    # An outage, not a fault of the fast path: errors.py's one warning, no traceback.
    assert fetched.warnings == ["database unavailable: ConnectFailed"]


@pytest.mark.postgres
def test_the_next_fetch_tries_the_database_afresh() -> None:
    # The failed connect is this request's answer only: each request tries once, HEAD too.
    # Not a test of the timeout (the one above is): a refused connect fails the fetch the same
    # way (the driver's error, ConnectFailed, kept for this request alone) without its 2 s wait.
    with refusing_port() as port, running_app(
            f"postgresql://postgres@127.0.0.1:{port}/promptsync",
            DATABASE_CONNECT_TIMEOUT=TIMEOUT) as app:
        for method in ("GET", "HEAD", "GET"):
            (fetched,) = fetch_all(app, [(method, FETCHES[0])])
            assert fetched.response.status_code == 503
            assert len(fetched.attempts) == 1
