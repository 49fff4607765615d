"""The process stopping (hub.stop_all, what a gunicorn worker calls as it begins a graceful stop):
an open stream says goodbye and ends, a waiting long poll answers [], and a request taken after
the stop ends at once; in-process, on SQLite (the tests/system ones run real gunicorn)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.app import make_account
from tests.support.waiting import wait_until
from webapi.extensions import db
from webapi.live import hub as hub_module
from webapi.live.access import Caller, Recheck
from webapi.live.hub import Hub, Settings, stop_all
from webapi.live.stream import STOPPING, StreamSettings, event_stream, wait_for_events

QUIET = StreamSettings(keepalive=60, lifetime=0)  # nothing but the stop can end the stream


@pytest.fixture
def hub(sqlite_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Hub, int]]:
    """A hub and a project id; the process-wide stop flag is this test's own."""
    monkeypatch.setattr(hub_module, "_STOPPING", threading.Event())
    account = make_account(sqlite_app)
    with sqlite_app.app_context():
        hub = Hub(db.engine, Settings(linger=0.0))
        project = int(db.session.execute(db.text("SELECT id FROM projects WHERE slug = :s"),
                                         {"s": account.project}).scalar_one())
    yield hub, project
    hub.stop()
    wait_until(lambda: hub._thread is None, 10, "the hub's thread to end")  # noqa: SLF001


def _recheck(hub: Hub, project: int) -> Recheck:
    return Recheck(hub.engine, Caller(project, "p", 1, "a@example.com", key_id=1), 3600)


def _in_thread(target: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(target()), daemon=True)
    thread.start()
    return thread, out


def test_stop_all_ends_an_open_stream_and_a_waiting_long_poll(hub: tuple[Hub, int]) -> None:
    live, project = hub
    recheck = _recheck(live, project)
    body = event_stream(live, project, None, QUIET, recheck)
    stream, chunks = _in_thread(lambda: list(body))
    poll, answer = _in_thread(lambda: wait_for_events(live, project, 2**40, 30, 10, recheck))
    wait_until(lambda: live.count() == 2, 10, "both subscribed")

    stop_all()
    stream.join(5)
    poll.join(5)
    assert not stream.is_alive() and not poll.is_alive()
    assert chunks[0][0].startswith("retry: ") and chunks[0][-1] == STOPPING
    assert answer == [[]]
    assert live.count() == 0


def test_a_request_taken_after_the_stop_ends_at_once(hub: tuple[Hub, int]) -> None:
    live, project = hub
    stop_all()
    recheck = _recheck(live, project)
    assert list(event_stream(live, project, None, QUIET, recheck))[-1] == STOPPING
    assert wait_for_events(live, project, 2**40, 30, 10, recheck) == []
    assert live.count() == 0
