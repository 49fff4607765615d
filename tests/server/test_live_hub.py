"""The live hub in-process: id order across transactions that commit out of order (Postgres),
rolled-back ids, a slow subscriber cut off without holding up the others, and the stream body."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from flask import Flask

from tests.support.app import Account, make_account
from tests.support.shared_apps import SharedApps
from tests.support.waiting import wait_until
from webapi.extensions import db
from webapi.live.access import Caller, Recheck
from webapi.live.hub import Hub, Settings
from webapi.live.stream import StreamSettings, event_stream, frame
from webapi.live.subscriber import Subscriber

INSERT = ("INSERT INTO events (project_id, actor, action, slug, details, created_at) "
          "VALUES (%s, 'test', 'version.created', %s, '{}', now()) RETURNING id")


@pytest.fixture
def pg_app(postgres_url: str, shared_apps: SharedApps, request: pytest.FixtureRequest
           ) -> Iterator[Flask]:
    shared_apps.empty_postgres(postgres_url)
    with shared_apps.lend(postgres_url, request.node) as application:
        yield application


@pytest.fixture
def pg_hub(pg_app: Flask) -> Iterator[tuple[Hub, int, str]]:
    """A hub on the Postgres app (no linger), the project id, and the database URL."""
    account = make_account(pg_app)
    with pg_app.app_context():
        hub = Hub(db.engine, Settings(linger=0.0))
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    yield hub, _project_id(pg_app, account), url
    wait_until(lambda: hub._thread is None, 10, "the hub's thread to end")  # noqa: SLF001


def _project_id(app: Flask, account: Account) -> int:
    with app.app_context():
        return int(db.session.execute(db.text("SELECT id FROM projects WHERE slug = :s"),
                                      {"s": account.project}).scalar_one())


def _taken(subscriber: Subscriber, into: list[dict[str, Any]]) -> list[int]:
    into += subscriber.take(0)
    return [e["id"] for e in into]


def _has(subscriber: Subscriber, into: list[dict[str, Any]], count: int) -> bool:
    return len(_taken(subscriber, into)) == count


def test_an_event_committed_first_waits_for_the_smaller_id_still_running(
        pg_hub: tuple[Hub, int, str]) -> None:
    hub, project, url = pg_hub
    subscriber, _ = hub.subscribe(project)
    early, late = psycopg2.connect(url), psycopg2.connect(url)
    got: list[dict[str, Any]] = []
    try:
        with early.cursor() as cur:
            cur.execute(INSERT, (project, "a"))  # id n, not committed yet
            first = cur.fetchone()[0]
        with late.cursor() as cur:
            cur.execute(INSERT, (project, "b"))  # id n+1, committed at once
            second = cur.fetchone()[0]
        late.commit()
        reads = hub.reads
        hub.wake()
        wait_until(lambda: hub.reads >= reads + 2, 10, "the hub to read the table twice")
        assert _taken(subscriber, got) == [], "n+1 was delivered while n may still commit"
        early.commit()
        hub.wake()
        wait_until(lambda: len(_taken(subscriber, got)) == 2, 10, "both events")
        assert [e["id"] for e in got] == [first, second]
    finally:
        early.close()
        late.close()
        hub.unsubscribe(subscriber)


def test_a_rolled_back_id_does_not_hold_up_the_next(pg_hub: tuple[Hub, int, str]) -> None:
    hub, project, url = pg_hub
    subscriber, _ = hub.subscribe(project)
    conn = psycopg2.connect(url)
    got: list[dict[str, Any]] = []
    try:
        with conn.cursor() as cur:
            cur.execute(INSERT, (project, "gone"))
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute(INSERT, (project, "kept"))
            kept = cur.fetchone()[0]
        conn.commit()
        hub.wake()
        wait_until(lambda: _taken(subscriber, got) == [kept], 10, lambda: f"{kept} in {got}")
    finally:
        conn.close()
        hub.unsubscribe(subscriber)


def test_a_full_subscriber_is_dropped_and_the_others_still_get_everything(
        pg_hub: tuple[Hub, int, str]) -> None:
    hub, project, url = pg_hub
    hub.settings = Settings(queue_size=3, linger=0.0)
    slow, _ = hub.subscribe(project)
    fast, _ = hub.subscribe(project)
    conn = psycopg2.connect(url)
    got: list[dict[str, Any]] = []
    try:
        ids = []
        for n in range(6):
            with conn.cursor() as cur:
                cur.execute(INSERT, (project, f"p{n}"))
                ids.append(cur.fetchone()[0])
            conn.commit()
            hub.wake()
            wait_until(functools.partial(_has, fast, got, n + 1), 10, "the fast reader")
        assert [e["id"] for e in got] == ids
        assert slow.dropped and slow.take(0) == []
        assert hub.count() == 1  # the slow one is no longer fed
    finally:
        conn.close()
        hub.unsubscribe(fast)
        hub.unsubscribe(slow)


def test_the_stream_replays_after_the_given_id_then_goes_live(
        pg_hub: tuple[Hub, int, str]) -> None:
    hub, project, url = pg_hub
    conn = psycopg2.connect(url)
    try:
        ids = []
        for slug in ("a", "b", "c"):
            with conn.cursor() as cur:
                cur.execute(INSERT, (project, slug))
                ids.append(cur.fetchone()[0])
        conn.commit()
        never = Recheck(hub.engine, Caller(project, "p", 1, "a@example.com", key_id=1), 3600)
        body = event_stream(hub, project, ids[0], StreamSettings(keepalive=0.05, lifetime=30),
                            never)
        assert next(body).startswith("retry: ")
        replayed = [next(body), next(body)]
        assert [line.split("\n")[0] for line in replayed] == [f"id: {i}" for i in ids[1:]]
        with conn.cursor() as cur:
            cur.execute(INSERT, (project, "d"))
            live_id = cur.fetchone()[0]
        conn.commit()
        hub.wake()
        chunks: list[str] = []
        while not any(f"id: {live_id}\n" in c for c in chunks):
            chunks.append(next(body))
            assert len(chunks) < 200, "the live event never came"
        assert all(c == ": keep-alive\n\n" for c in chunks[:-1])
        body.close()
        assert hub.count() == 0  # closing the body (a client gone) unsubscribes
    finally:
        conn.close()


def test_frame_is_one_sse_event() -> None:
    event = {"id": 7, "action": "label.moved", "slug": "a/b", "details": {"x": "é\nline"}}
    text = frame(event)
    assert text.startswith("id: 7\nevent: label.moved\ndata: {")
    assert text.endswith("}\n\n") and text.count("\n") == 4  # the data stays one line
