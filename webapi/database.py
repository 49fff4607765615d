"""Engine settings per backend: SQLite pragmas for safe concurrency, Postgres pool settings."""

from __future__ import annotations

import select
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from webapi.extensions import db

POOL_RECYCLE_SECONDS = 1800  # also when webapi.fetch.connections retires its connections
CONNECT_TIMEOUT_SECONDS = 5  # DATABASE_CONNECT_TIMEOUT's default (webapi.config)
_FRESH = "promptsync_fresh"  # in a pool record's info: connected, not yet checked out


def engine_options(uri: str, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> dict[str, Any]:
    """SQLAlchemy engine options for the database URI."""
    if uri.startswith("sqlite"):
        # The busy timeout makes writers queue instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pool_pre_ping: its SELECT 1 is a round trip on every checkout, i.e. every request;
    # configure() installs a check without one (hung_up) that notices a connection the server
    # closed before it is used. pool_recycle retires connections before server or firewall
    # idle timeouts can cut them silently. Figures: docs/BENCHMARKS.md, "Dead connections".
    options: dict[str, Any] = {
        "pool_size": 5, "max_overflow": 10, "pool_recycle": POOL_RECYCLE_SECONDS}
    # libpq's connect_timeout bounds the whole connection setup (TCP, TLS, startup, auth) per
    # address: every connection comes from this engine, the fetch's and the LISTEN one included.
    # Connection setup only: a connection in use is not slowed. A connect_timeout written in
    # DATABASE_URL wins (the URL's query is the operator's own word).
    if connect_timeout > 0 and "connect_timeout=" not in uri:
        options["connect_args"] = {"connect_timeout": connect_timeout}
    return options


def hung_up(driver: Any) -> bool:
    """Whether the server has closed this idle Postgres connection (it is no use any more)."""
    # An idle connection is sent nothing unasked (the app never LISTENs), so a readable socket
    # holds the server's goodbye: pg_terminate_backend's or a shutdown's FATAL, or end-of-file.
    # One poll(2) of the socket, ~0.5 us, where pool_pre_ping's SELECT 1 is a round trip.
    if driver.closed:
        return True
    poller = select.poll()
    poller.register(driver.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _fresh(_dbapi_connection: Any, record: Any) -> None:
    record.info[_FRESH] = True


def _check_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    # Raising DisconnectionError makes the pool replace this connection and hand out the new
    # one. A connection just made is not checked: it has done nothing since connecting, and
    # the pool checks the replacement too, which must not fail again.
    if not record.info.pop(_FRESH, False) and hung_up(dbapi_connection):
        raise DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def configure(app: Flask) -> None:
    """Install per-connection settings on the app's engine."""
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        elif engine.dialect.name == "postgresql":
            event.listen(engine, "connect", _fresh)
            event.listen(engine, "checkout", _check_idle)
