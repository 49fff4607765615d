"""The API-key fetch (webapi/fetch/): one statement per fetch, the same answers as the
general path (a session's fetch, /me for a bad key), last_used_at written at most once a window.
The authorization matrix (test_authz.py) pins every status of it beside every other route."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2.extensions
import pytest
from flask import Flask
from sqlalchemy import event, select, update

from tests.support.app import Account, login
from webapi.extensions import db
from webapi.fetch.connections import idle_connections
from webapi.models import ApiKey

BASE = "/api/v1/projects/demo/prompts/support/greeting"
SHORT = "/api/v1/prompts/support/greeting"
QUERIES = ["", "?version=2", "?label=production"]
HEADERS = ["Content-Type", "ETag", "Cache-Control", "Vary", "X-Content-Type-Options",
           "Referrer-Policy", "X-Frame-Options", "Content-Security-Policy"]


def idle_drivers(engine: Any) -> list[Any]:
    """The DBAPI connections the Postgres fetch holds idle."""
    return [conn.driver for conn in idle_connections(engine).stack]


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app sends to the database meanwhile, as the driver sees it (the
    Postgres fetch runs on the raw psycopg2 cursor, below SQLAlchemy's execute events)."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    class Recording(psycopg2.extensions.cursor):
        def execute(self, query: Any, vars: Any = None) -> Any:  # noqa: A002
            seen.append(query)
            return super().execute(query, vars)

    def checkout(dbapi_connection: Any, *_: Any) -> None:
        if engine.dialect.name == "postgresql":
            dbapi_connection.cursor_factory = Recording
        else:
            dbapi_connection.set_trace_callback(seen.append)

    def checkin(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is None:
            return
        if engine.dialect.name == "postgresql":
            dbapi_connection.cursor_factory = psycopg2.extensions.cursor
        else:
            dbapi_connection.set_trace_callback(None)

    # The Postgres fetch keeps its own idle connections between requests
    # (webapi.fetch.connections): those it holds now are recorded too; new ones come from the
    # pool's checkout.
    idle = idle_drivers(engine) if engine.dialect.name == "postgresql" else []
    for dbapi_connection in idle:
        checkout(dbapi_connection)
    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine.pool, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(engine.pool, "checkout", checkout)
        event.remove(engine.pool, "checkin", checkin)
        if engine.dialect.name == "postgresql":
            for dbapi_connection in idle_drivers(engine):
                checkin(dbapi_connection)


@pytest.mark.parametrize("path", [BASE, SHORT])
@pytest.mark.parametrize("query", QUERIES)
def test_a_key_fetch_and_a_revalidation_are_one_statement_each(
    app: Flask, seeded: Account, path: str, query: str
) -> None:
    client = app.test_client()
    key = seeded.headers("viewer")
    # Warm-up: the first fetch writes last_used_at, and on Postgres prepares the statements.
    etag = client.get(path + query, headers=key).headers["ETag"]
    assert client.get(path + query, headers={**key, "If-None-Match": etag}).status_code == 304
    with statements(app) as seen:
        for _ in range(3):
            assert client.get(path + query, headers=key).status_code == 200
            revalidated = client.get(path + query, headers={**key, "If-None-Match": etag})
            assert revalidated.status_code == 304
    assert len(seen) == 6, seen


@pytest.mark.parametrize("query", QUERIES)
def test_a_key_fetch_answers_as_a_session_fetch_does(
    app: Flask, seeded: Account, query: str
) -> None:
    by_key = app.test_client().get(BASE + query, headers=seeded.headers("viewer"))
    web = app.test_client()
    login(web, seeded.email)
    by_session = web.get(BASE + query)
    assert by_key.status_code == by_session.status_code == 200
    assert by_key.get_data() == by_session.get_data()
    assert by_key.get_json()["labels"] == ([] if query == "" else ["production", "staging"])
    for name in HEADERS:
        assert by_key.headers.get(name) == by_session.headers.get(name), name
    etag = {"If-None-Match": by_key.headers["ETag"]}
    not_modified = app.test_client().get(BASE + query, headers={**seeded.headers(), **etag})
    assert not_modified.status_code == web.get(BASE + query, headers=etag).status_code == 304
    assert not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == by_key.headers["ETag"]


def test_a_stale_etag_gets_the_full_version(app: Flask, seeded: Account) -> None:
    client = app.test_client()
    stale = client.get(f"{BASE}?version=1", headers=seeded.headers()).headers["ETag"]
    fresh = client.get(BASE, headers={**seeded.headers(), "If-None-Match": stale})
    assert fresh.status_code == 200
    assert fresh.get_json()["version"] == 3
    assert fresh.headers["ETag"] != stale


def test_a_bad_key_is_refused_with_the_general_paths_words(app: Flask, seeded: Account) -> None:
    client = app.test_client()
    revoked = client.post("/api/v1/projects/demo/keys", json={"name": "old", "role": "viewer"},
                          headers=seeded.headers("admin")).get_json()
    deleted = client.delete(f"/api/v1/projects/demo/keys/{revoked['id']}",
                            headers=seeded.headers("admin"))
    assert deleted.status_code == 204
    viewer = seeded.keys["viewer"]
    bad_keys = ["nonsense", viewer[:-4] + "AAAA", "psk_00000000_" + viewer[13:], revoked["key"]]
    for bad in bad_keys:
        fetched = client.get(BASE, headers={"X-API-Key": bad})
        me = client.get("/api/v1/me", headers={"X-API-Key": bad})
        assert fetched.status_code == me.status_code == 401
        assert fetched.get_json() == me.get_json()


@pytest.mark.parametrize(("query", "status"), [
    ("?version=9", 404), ("?label=nope", 404), ("?version=x", 400), ("?version=0", 400),
    ("?version=1&label=production", 400), ("?label=", 404),
])
def test_what_the_fast_path_leaves_to_the_general_path(
    app: Flask, seeded: Account, query: str, status: int
) -> None:
    response = app.test_client().get(BASE + query, headers=seeded.headers("viewer"))
    assert response.status_code == status, response.get_json()


def test_last_used_at_is_written_at_most_once_a_window(app: Flask, seeded: Account) -> None:
    client = app.test_client()
    key = seeded.headers("viewer")

    def last_used() -> dt.datetime | None:
        with app.app_context():
            return db.session.scalar(select(ApiKey.last_used_at).where(ApiKey.name == "viewer"))

    assert last_used() is None
    assert client.get(BASE, headers=key).status_code == 200
    first = last_used()
    assert first is not None
    with statements(app) as seen:
        assert client.get(BASE, headers=key).status_code == 200
    assert last_used() == first
    assert not [s for s in seen if s.lstrip().upper().startswith("UPDATE")]
    older = first - dt.timedelta(seconds=app.config["KEY_TOUCH_SECONDS"] + 5)
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.name == "viewer").values(
            last_used_at=older))
        db.session.commit()
    assert client.get(BASE, headers=key).status_code == 200
    touched = last_used()
    assert touched is not None and touched > older + dt.timedelta(seconds=5)


def key_fetches(seen: list[str]) -> list[str]:
    """The key-scoped fetch statements run among those seen (the general path reads the key
    and the version in two other statements; a Postgres PREPARE runs nothing)."""
    return [s for s in seen if s.startswith("EXECUTE promptsync_fetch")
            or ("api_keys" in s and "prompt_versions" in s and not s.startswith("PREPARE"))]


MISSES = [
    (BASE + "?version=9", "viewer", 404),
    (SHORT + "?label=nope", "viewer", 404),
    ("/api/v1/projects/other/prompts/support/greeting", "viewer", 404),
    (BASE, "bad", 401),
    (SHORT, "bad", 401),
]


@pytest.mark.parametrize("way", ["middleware", "flask only", "cookie beside the key"])
@pytest.mark.parametrize(("path", "key", "status"), MISSES)
def test_a_miss_is_looked_up_once(
    app: Flask, seeded: Account, monkeypatch: pytest.MonkeyPatch, way: str, path: str, key: str,
    status: int,
) -> None:
    # The middleware passes a miss on to Flask, and the /prompts shorthand hands it on to the
    # project route: the key-scoped statement still runs once, whoever asks.
    client = app.test_client()
    headers = seeded.headers("viewer")
    assert client.get(BASE, headers=headers).status_code == 200  # prepared, last_used_at set
    if key == "bad":
        headers = {"X-API-Key": seeded.keys["viewer"][:-4] + "AAAA"}
    if way == "flask only":  # as with CORS_ORIGINS set: no middleware in front
        monkeypatch.setattr(app, "wsgi_app", app.wsgi_app.general)  # type: ignore[attr-defined]
    elif way == "cookie beside the key":  # the middleware leaves it to Flask's view
        headers = {**headers, "Cookie": "promptsync_session=x"}
    with statements(app) as seen:
        response = client.get(path, headers=headers)
    assert response.status_code == status, response.get_json()
    assert len(key_fetches(seen)) == 1, seen
