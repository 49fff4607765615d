"""A Postgres host that accepts TCP and then never answers (tests/support/black_hole.py) fails
/readyz and a fetch with a 503 within DATABASE_CONNECT_TIMEOUT, instead of hanging until the
kernel gives up on the connection (minutes): what a load balancer's readiness probe needs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.app import running_app
from tests.support.black_hole import BlackHole
from webapi.database import engine_options

TIMEOUT = 2  # libpq's least (1 counts as 2)
# Far above the bound, far below the minutes of a TCP timeout: only a hang gets this far.
HANG = 20.0


FETCH = "/api/v1/prompts/support/greeting"
KEY = {"X-API-Key": "psk_abcdef12_" + "x" * 32}


def answers_within(app: Flask, sends: dict[str, Callable[[Any], Any]], deadline: float
                   ) -> dict[str, Any]:
    """Each send(test client) on a thread of its own, all at once; their responses, or a
    failure naming those still waiting at the deadline."""
    results: dict[str, Any] = {}
    workers = [threading.Thread(target=lambda name=name, send=send:
                                results.__setitem__(name, send(app.test_client())),
                                daemon=True) for name, send in sends.items()]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(0.0, deadline - (time.monotonic() - started)))
    waiting = sorted(set(sends) - set(results))
    assert not waiting, f"{waiting}: no answer within {deadline} s: the connection attempt " \
        "is not bounded"
    return results


@pytest.fixture(scope="module")
def black_holed_answers() -> Iterator[dict[str, Any]]:
    """/readyz and a key fetch sent at once to an app whose Postgres host never answers."""
    # One connect timeout serves both tests (4 s of waiting became 2 s): each request connects
    # on its own thread, so a hang of either still fails its own test.
    with BlackHole() as hole, running_app(hole.postgres_url(),
                                          DATABASE_CONNECT_TIMEOUT=TIMEOUT) as app:
        yield answers_within(app, {"readyz": lambda client: client.get("/readyz"),
                                   "fetch": lambda client: client.get(FETCH, headers=KEY)},
                             HANG)
    # Leaving the block closed the hole: a request still waiting on it would end now.


def test_readyz_is_503_in_the_error_shape_when_the_database_host_never_answers(
        black_holed_answers: dict[str, Any]) -> None:
    ready = black_holed_answers["readyz"]
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["error"] == "unavailable" and body["database"] == "unreachable", body
    assert body["detail"] == "The database cannot be reached."
    assert ready.headers["Cache-Control"] == "no-store"


def test_a_fetch_is_503_when_the_database_host_never_answers(
        black_holed_answers: dict[str, Any]) -> None:
    # The key fetch keeps connections of its own (webapi/fetch/connections.py): bounded too.
    fetched = black_holed_answers["fetch"]
    assert fetched.status_code == 503, fetched.data
    assert fetched.get_json()["error"] == "unavailable"


def test_the_connect_timeout_is_postgres_only_and_the_url_may_set_its_own() -> None:
    url = "postgresql+psycopg2://u@db/promptsync"
    assert engine_options(url, 7)["connect_args"] == {"connect_timeout": 7}
    assert engine_options(url)["connect_args"] == {"connect_timeout": 5}
    assert "connect_args" not in engine_options(url + "?connect_timeout=30", 7)
    assert "connect_args" not in engine_options(url, 0)  # 0: no limit, as libpq reads it
    assert "connect_timeout" not in engine_options("sqlite:///x.db", 7)["connect_args"]
