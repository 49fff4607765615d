"""A pooled database connection that died is noticed before use, not by the request that uses it:
after every Postgres backend of the app is terminated (what a database restart does to pooled
connections), the very next requests of each kind answer as usual, never 503."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from flask import Flask

from tests.support.app import (
    GREETING,
    Account,
    running_app,
    terminate_backends,
    truncate_postgres,
)
from tests.support.gunicorn import Gunicorn
from tests.support.live import create_account, create_key
from webapi.database import hung_up
from webapi.extensions import db
from webapi.fetch.connections import idle_connections

PASSWORD = "correct horse battery"
PROMPT = "/api/v1/projects/demo/prompts/after/restart"
FAST_FETCH = "/api/v1/prompts/after/restart"  # the key-scoped form the fast path answers


REQUESTS = {  # name: (method, path, JSON body, expected status)
    "fetch-by-key": ("GET", FAST_FETCH, None, 200),  # the fast path's own connections
    "me": ("GET", "/api/v1/me", None, 200),  # the rest: the Session's pool
    "list-prompts": ("GET", "/api/v1/projects/demo/prompts", None, 200),
    "push": ("POST", PROMPT, {"source": GREETING + "# again\n"}, 201),
}


@pytest.mark.parametrize("kind", REQUESTS)
def test_the_first_request_after_the_backends_die_is_answered(
    app: Flask, account: Account, database_url: str, kind: str
) -> None:
    method, path, body, expected = REQUESTS[kind]
    client = app.test_client()
    editor = account.headers("editor")
    assert client.post(PROMPT, json={"source": GREETING}, headers=editor).status_code == 201
    # Both pools of the app hold a connection now: the fast fetch's (taken from the engine's
    # pool, then its own) and the Session's.
    assert client.get(FAST_FETCH, headers=editor).status_code == 200
    assert client.get("/api/v1/me", headers=editor).status_code == 200
    if database_url.startswith("postgresql"):  # SQLite has no server to lose: same requests
        assert terminate_backends(database_url) >= 2
    response = client.open(path, method=method, json=body, headers=editor)
    assert response.status_code == expected, response.get_json()
    again = client.open(path, method=method, json=body, headers=editor)
    assert again.status_code == (200 if method == "POST" else expected), again.get_json()
    versions = client.get(f"{PROMPT}/-/versions", headers=editor).get_json()["versions"]
    assert [v["version"] for v in versions] == ([2, 1] if method == "POST" else [1])


@pytest.mark.postgres
def test_a_dead_idle_connection_is_noticed_before_use(postgres_url: str) -> None:
    # The checks themselves, below the requests above: the fast fetch's own stack hands out a
    # live connection in place of a dead one, and the Session's pool replaces a dead one at
    # checkout; no statement is sent on a dead connection, so the fetch's retry (for a death
    # in the middle of a request) and the pool's invalidation of every connection stay unused.
    with running_app(postgres_url) as app, app.app_context():
        engine = db.engine
        idle = idle_connections(engine)
        kept = idle.take()
        idle.give_back(kept)
        with engine.connect() as conn:
            pooled = conn.connection.dbapi_connection
        assert pooled is not None
        assert not hung_up(kept.driver) and not hung_up(pooled)
        invalidated = engine.pool._invalidate_time  # noqa: SLF001
        assert terminate_backends(postgres_url) >= 2
        assert hung_up(kept.driver) and hung_up(pooled)
        taken = idle.take()
        assert taken is not kept and kept.driver.closed and not hung_up(taken.driver)
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection is not pooled
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        assert pooled.closed
        assert engine.pool._invalidate_time == invalidated  # noqa: SLF001
        idle.give_back(taken)


def _backends(url: str) -> int:
    import psycopg2

    name = url.rsplit("/", 1)[1]
    with psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))
        count = int(cur.fetchone()[0])
    conn.close()
    return count


@pytest.mark.postgres
def test_gunicorn_workers_answer_the_first_requests_after_the_backends_die(
    postgres_url: str, tmp_path: Path
) -> None:
    truncate_postgres(postgres_url)
    with Gunicorn(tmp_path / "srv", postgres_url, workers=2) as server:
        create_account(server.url, "ann@example.com", PASSWORD, "demo")
        headers = {"X-API-Key": create_key(server.url, "ann@example.com", PASSWORD, "demo")}
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as web:
            assert web.post(PROMPT, json={"source": GREETING}).status_code == 201
        # Fresh connections, so both workers serve some and keep a pooled connection each.
        for _ in range(40):
            if _backends(postgres_url) >= 2:
                break
            assert httpx.get(server.url + "/api/v1/me", headers=headers).status_code == 200
        assert _backends(postgres_url) >= 2, "both workers hold a pooled connection"
        assert terminate_backends(postgres_url) >= 2
        statuses = [httpx.get(server.url + path, headers=headers).status_code
                    for path in ["/api/v1/me", "/api/v1/projects/demo/prompts"] * 4]
        pushed = httpx.post(server.url + PROMPT, json={"source": GREETING + "# 2\n"},
                            headers=headers)
        fetched = httpx.get(server.url + FAST_FETCH, headers=headers)
        assert statuses == [200] * 8, server.served_by("/api/v1/me")
        assert (pushed.status_code, fetched.status_code) == (201, 200), pushed.text
        assert fetched.json()["version"] == 2
