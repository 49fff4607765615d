"""A key fetch while the database host never answers waits the connect timeout once: the fast
path's failed connect is the request's answer (the §5 503), the general path does not try again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
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


@pytest.fixture
def black_holed_app() -> Iterator[tuple[Flask, list[float]]]:
    """An app whose Postgres host accepts TCP and never answers; the times it tried to connect."""
    with BlackHole() as hole, running_app(hole.postgres_url(),
                                          DATABASE_CONNECT_TIMEOUT=TIMEOUT) as app:
        attempts: list[float] = []
        with app.app_context():
            # Before every DBAPI connect, the pool's and the fetch's own connections alike.
            event.listen(db.engine, "do_connect", lambda *_: attempts.append(time.monotonic()))
        yield app, attempts


def timed(app: Flask, path: str, method: str = "GET") -> tuple[Any, float]:
    """The response to path and the seconds it took; fails if it is still waiting after HANG."""
    result: list[tuple[Any, float]] = []

    def send() -> None:
        started = time.monotonic()
        response = app.test_client().open(path, method=method, headers=KEY)
        result.append((response, time.monotonic() - started))

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    worker.join(HANG)
    assert result, f"no answer within {HANG} s: the connection attempt is not bounded"
    return result[0]


@pytest.mark.postgres
@pytest.mark.parametrize("path", FETCHES)
def test_a_fetch_in_an_outage_waits_the_connect_timeout_once(
        black_holed_app: tuple[Flask, list[float]], path: str,
        caplog: pytest.LogCaptureFixture) -> None:
    app, attempts = black_holed_app
    with caplog.at_level(logging.WARNING):
        response, seconds = timed(app, path)
    assert response.status_code == 503, response.data
    assert response.get_json() == {"error": "unavailable",
                                   "detail": "The database is unavailable; try again shortly."}
    assert response.headers["Retry-After"] == "2"
    assert len(attempts) == 1, f"{len(attempts)} connection attempts for one fetch"
    # Each attempt waits TIMEOUT at least: two waits could not answer under 2 × TIMEOUT.
    assert seconds < 2 * TIMEOUT, f"answered after {seconds:.1f} s"
    # An outage, not a fault of the fast path: errors.py's one warning, no traceback.
    assert [r.getMessage() for r in caplog.records] == ["database unavailable: ConnectFailed"]


@pytest.mark.postgres
def test_the_next_fetch_tries_the_database_afresh(
        black_holed_app: tuple[Flask, list[float]]) -> None:
    # The failed connect is this request's answer only: each request tries once, HEAD too.
    app, attempts = black_holed_app
    for method in ("GET", "HEAD", "GET"):
        response, _ = timed(app, FETCHES[0], method)
        assert response.status_code == 503
    assert len(attempts) == 3
