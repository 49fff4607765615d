"""Engine settings per backend: SQLite pragmas for safe concurrency, Postgres pool settings."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapi.extensions import db

POOL_RECYCLE_SECONDS = 1800  # also when webapi.fetch.connections retires its connections


def engine_options(uri: str) -> dict[str, Any]:
    """SQLAlchemy engine options for the database URI."""
    if uri.startswith("sqlite"):
        # The busy timeout makes writers queue instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pool_pre_ping: it costs a SELECT 1 round trip on every checkout, i.e. every request.
    # After a Postgres restart the first statement on a dead connection fails instead; SQLAlchemy
    # recognises the disconnect and invalidates the whole pool, errors.py answers that request
    # 503 + Retry-After, and the next request opens fresh connections: at most one failed
    # request per worker, no restart. pool_recycle retires connections before server or
    # firewall idle timeouts can cut them silently.
    return {"pool_size": 5, "max_overflow": 10, "pool_recycle": POOL_RECYCLE_SECONDS}


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
