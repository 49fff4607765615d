"""fetch-pool: what the key fetch's own Postgres connections buy over SQLAlchemy's pool.

The fast fetch on Postgres keeps a few connections of its own (webapi/fetch/connections.py, a
LIFO list with the pool's rules written by hand). This case runs the very same fetch, in-process
through the middleware's WSGI call, with its connections taken three ways, in alternating
chunks in one process so the machine's noise hits all three alike:

- own stack: the product as it is;
- QueuePool: a SQLAlchemy pool of its own (LIFO, pool_recycle, autocommit set once per
  connection, no reset on return), i.e. what the hand-made list would be replaced by;
- app pool: the app engine's own pool, autocommit switched on and off around each fetch.

Reported: worker CPU per fetch (process time / fetches), the figure the pool changes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from werkzeug.test import EnvironBuilder

from webapi import create_app
from webapi.extensions import db
from webapi.fetch import readers

from .common import GREETING, PASSWORD, Options, Table, database, fmt_range, log, postgres_version

CHUNK = 200  # fetches per timed chunk: short, so the three of a round run under alike noise
SLUG = "support/greeting"


class _Pooled:
    """A connection checked out of a SQLAlchemy pool, with FetchConnection's face."""

    __slots__ = ("driver", "fairy", "prepared", "switch")

    def __init__(self, fairy: Any, switch: bool) -> None:
        self.fairy, self.driver, self.switch = fairy, fairy.dbapi_connection, switch
        if switch:
            self.driver.autocommit = True
        self.prepared: set[str] = fairy.info.setdefault("promptsync_prepared", set())

    def close(self) -> None:
        self.fairy.close()


class _PoolSource:
    """IdleConnections' face over a SQLAlchemy pool: take checks out, give_back checks in."""

    def __init__(self, engine: Engine, checkout: Callable[[], Any], switch: bool) -> None:
        self.checkout, self.switch = checkout, switch
        self.error = engine.dialect.loaded_dbapi.Error

    def take(self) -> _Pooled:
        return _Pooled(self.checkout(), self.switch)

    def give_back(self, conn: _Pooled) -> None:
        if self.switch:
            conn.driver.autocommit = False  # the app's pool serves the Session too
        conn.fairy.close()

    def close_all(self) -> None:
        pass


def _queue_pool(engine: Engine) -> QueuePool:
    """A pool of autocommit connections to the engine's database, as the fetch would want it."""
    cargs, cparams = engine.dialect.create_connect_args(engine.url)

    def connect() -> Any:
        conn = engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        conn.autocommit = True
        return conn

    return QueuePool(connect, pool_size=5, max_overflow=10, recycle=1800, use_lifo=True,
                     reset_on_return=None, dialect=engine.dialect)


@contextmanager
def _connections_from(source: Any) -> Iterator[None]:
    """The fetch's readers take their connections from `source` meanwhile (None: its own)."""
    own = readers.idle_connections
    if source is not None:
        readers.idle_connections = lambda _engine: source  # type: ignore[assignment]
    try:
        yield
    finally:
        readers.idle_connections = own  # type: ignore[assignment]


def _seeded_app(url: str) -> tuple[Flask, dict[str, Any]]:
    """The app on `url` with one prompt at versions 1..3, and the WSGI environ of its fetch."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "BCRYPT_ROUNDS": 4,
                      "SECRET_KEY": "bench-only-not-a-secret"})
    web = app.test_client()
    account = {"email": "bench@example.com", "password": PASSWORD}
    assert web.post("/api/v1/auth/signup", json=account).status_code == 201
    csrf = {"X-CSRF-Token": web.post("/api/v1/auth/login", json=account).json["csrf_token"]}
    assert web.post("/api/v1/projects", json={"slug": "bench", "name": "Bench"},
                    headers=csrf).status_code == 201
    keys = {role: web.post("/api/v1/projects/bench/keys", json={"name": role, "role": role},
                           headers=csrf).json["key"] for role in ("viewer", "editor")}
    path = f"/api/v1/projects/bench/prompts/{SLUG}"
    for n in (1, 2, 3):
        assert web.post(path, json={"source": GREETING + f"# revision {n}\n"},
                        headers={"X-API-Key": keys["editor"]}).status_code == 201
    return app, EnvironBuilder(path=path, headers={"X-API-Key": keys["viewer"]}).get_environ()


def _cpu_per_fetch(app: Flask, environ: dict[str, Any], count: int) -> float:
    """Process CPU µs per fetch over `count` fetches through the app's WSGI callable."""
    wsgi = app.wsgi_app

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        assert status == "200 OK", status

    started = time.process_time()
    for _ in range(count):
        b"".join(wsgi(dict(environ), start_response))
    return (time.process_time() - started) / count * 1e6


def run(opts: Options) -> list[Table]:
    """The case: one table, or none when Postgres is not reachable."""
    if postgres_version() is None:
        log("fetch-pool: Postgres is not reachable; skipped")
        return []
    rounds = opts.rounds or (20 if opts.quick else 60)
    with database("postgres", opts) as url:
        app, environ = _seeded_app(url)
        with app.app_context():
            engine = db.engine
        sources: dict[str, Any] = {
            "own stack (the product)": None,
            "SQLAlchemy QueuePool": _PoolSource(engine, _queue_pool(engine).connect, switch=False),
            "app engine's pool": _PoolSource(engine, engine.raw_connection, switch=True),
        }
        cpu: dict[str, list[float]] = {name: [] for name in sources}
        try:
            for source in sources.values():  # warm-up: connect, prepare, caches
                with _connections_from(source):
                    _cpu_per_fetch(app, environ, CHUNK)
            for round_no in range(rounds):
                order = list(sources) if round_no % 2 == 0 else list(reversed(sources))
                for name in order:
                    with _connections_from(sources[name]):
                        cpu[name].append(_cpu_per_fetch(app, environ, CHUNK))
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    own = cpu["own stack (the product)"]
    table = Table(f"fetch-pool: key fetch on Postgres, in-process, {rounds} rounds × {CHUNK}",
                  ["connections from", "worker CPU µs/fetch median (min–max)",
                   "more than own stack, per round: median (min–max)"])
    table.rows.append(["own stack (the product)", fmt_range(own, 1), "-"])
    for name, values in list(cpu.items())[1:]:
        more = [mine - theirs for mine, theirs in zip(values, own, strict=True)]
        share = statistics.median(more) / statistics.median(own)
        table.rows.append([name, fmt_range(values, 1),
                           f"{fmt_range(more, 1, ' µs')}, {share:+.0%}"])
    table.notes.append("one process; the chunks of the three alternate (A B C, then C B A) and "
                       "each is compared with the own-stack chunk of its round; CPU = process "
                       "time, so the Postgres server's share is not in it")
    return [table]
