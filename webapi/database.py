"""Engine settings per backend: SQLite pragmas for safe concurrency, Postgres pool health."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import db


def engine_options(uri: str) -> dict[str, Any]:
    """SQLAlchemy engine options for the database URI."""
    if uri.startswith("sqlite"):
        # The busy timeout makes writers queue instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # pre_ping replaces connections that died with a Postgres restart, so the app recovers.
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10, "pool_recycle": 1800}


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
