"""The database goes away under load: 503 JSON (never 500), recovery without a restart, and no
half-written version. The shared Postgres server is never restarted: our app reaches its own
throwaway database through a TCP proxy we cut, and its backends are terminated."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from tests.support.app import GREETING, dispose_app, make_account, make_app, truncate_postgres
from tests.support.tcp_proxy import TcpProxy
from webapi.extensions import db

SLUGS = [f"load/p{i}" for i in range(3)]
WORKERS = 4
DEADLINE = 30.0  # no phase may hang the suite


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host).geturl()


def _terminate_backends(url: str) -> int:
    import psycopg2

    name = urlsplit(url).path.lstrip("/")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg2.connect(admin_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        killed = int(cur.fetchone()[0])
    conn.close()
    return killed


class Load:
    """Threads pushing and fetching through the app until stopped; every answer recorded."""

    def __init__(self, app: Any, headers: dict[str, str]) -> None:
        self.app, self.headers = app, headers
        self.statuses: Counter[int] = Counter()
        self.bad: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                        for n in range(WORKERS)]

    def _run(self, n: int) -> None:
        client = self.app.test_client()
        started, i = time.monotonic(), 0
        while not self.stop.is_set() and time.monotonic() - started < DEADLINE:
            i += 1
            slug = SLUGS[(n + i) % len(SLUGS)]
            url = f"/api/v1/projects/demo/prompts/{slug}"
            if i % 2:
                response = client.post(url, json={"source": GREETING + f"# {n}-{i}\n"},
                                       headers=self.headers)
            else:
                response = client.get(url, headers=self.headers)
            self.statuses[response.status_code] += 1
            if response.status_code >= 500 or response.status_code not in (200, 201, 404):
                body = response.get_json(silent=True) or {}
                ok = (response.status_code == 503 and body.get("error") == "unavailable"
                      and response.headers.get("Retry-After"))
                if not ok:
                    self.bad.append(f"{response.status_code} {response.get_data(as_text=True)}")

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=DEADLINE)


def _assert_gap_free(app: Any) -> int:
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT p.slug, p.latest_version, count(v.id), min(v.version), max(v.version) "
            "FROM prompts p LEFT JOIN prompt_versions v ON v.prompt_id = p.id "
            "GROUP BY p.id, p.slug, p.latest_version")).all()
        events = db.session.scalar(text(
            "SELECT count(*) FROM events WHERE action = 'version.created'"))
        db.session.remove()
    total = 0
    for slug, latest, count, low, high in rows:
        assert (count, low, high) == (latest, 1, latest), (slug, latest, count, low, high)
        total += count
    assert events == total  # every version has its event: nothing committed half
    return total


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_outage_under_load_is_503_then_recovers(postgres_url: str) -> None:
    truncate_postgres(postgres_url)
    target = urlsplit(postgres_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        app = make_app(_through(postgres_url, proxy.port))
        try:
            account = make_account(app)
            with Load(app, account.headers("editor")) as load:
                time.sleep(1.0)
                proxy.down()  # the "restart": every connection cut, new ones refused
                time.sleep(1.5)
                during = sum(load.statuses.values())
                proxy.up()
                time.sleep(1.0)
                assert _terminate_backends(postgres_url) >= 1  # and once more, server-side
                time.sleep(1.0)
            assert load.bad == [], load.bad[:5]
            assert load.statuses[503] >= 1, load.statuses
            assert sum(load.statuses.values()) > during  # it kept answering afterwards
            # Recovered, without a restart: a write and a read succeed right away.
            client = app.test_client()
            fresh = client.post("/api/v1/projects/demo/prompts/after/outage",
                                json={"source": GREETING}, headers=account.headers("editor"))
            assert fresh.status_code == 201, fresh.get_json()
            assert client.get("/healthz").status_code == 200
            assert _assert_gap_free(app) >= 2
        finally:
            dispose_app(app)


@pytest.mark.parametrize("error", ["OperationalError", "InterfaceError"])
def test_a_raw_driver_error_is_503_not_500(sqlite_url: str, error: str) -> None:
    # What the outage test caught once: the pool resetting a dead connection on check-in
    # raises psycopg2's own error, outside SQLAlchemy's wrapping.
    import psycopg2

    app = make_app(sqlite_url)

    @app.get("/api/v1/_dead_connection")
    def dead() -> Any:
        raise getattr(psycopg2, error)("server closed the connection unexpectedly")

    try:
        response = app.test_client().get("/api/v1/_dead_connection")
    finally:
        dispose_app(app)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["error"] == "unavailable"


@pytest.mark.postgres
def test_a_key_fetch_after_a_postgres_restart_is_retried_once_not_503(postgres_url: str) -> None:
    # Every pooled connection dies with its backend (what a restart does); the read-only fetch
    # statement is retried once on a fresh connection, so no app sees the restart. A write is
    # never retried: the Session path keeps answering a lost connection with 503.
    truncate_postgres(postgres_url)
    app = make_app(postgres_url)
    try:
        account = make_account(app)
        client = app.test_client()
        url = "/api/v1/projects/demo/prompts/after/restart"
        created = client.post(url, json={"source": GREETING}, headers=account.headers("editor"))
        assert created.status_code == 201
        for _ in range(2):
            assert client.get(url, headers=account.headers("viewer")).status_code == 200
            assert _terminate_backends(postgres_url) >= 1
            fetched = client.get(url, headers=account.headers("viewer"))
            assert fetched.status_code == 200, fetched.get_json()
            assert fetched.get_json()["version"] == 1
            revalidated = client.get(url, headers={**account.headers("viewer"),
                                                   "If-None-Match": fetched.headers["ETag"]})
            assert revalidated.status_code == 304
    finally:
        dispose_app(app)
