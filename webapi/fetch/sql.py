"""The SQL of the hot fetch: one prebuilt statement for key and version, and what runs it.

Used by webapi.fetch.lookup. The key row (hash, revocation, role, project, the creator's current
membership) and the version asked for (latest, ?version= or ?label=, with the labels on it) come
back from ONE Core statement, run on a pooled connection (autocommit on Postgres) without the
ORM Session: one database round trip, no BEGIN, no ROLLBACK, no identity map; on Postgres a
prepared statement, so not even planning, run on the raw driver cursor, and retried once on a
fresh connection when the pooled one turns out lost (see _PgReader).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Select, bindparam, event, select, update
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from webapi.database import POOL_RECYCLE_SECONDS as RECYCLE_SECONDS
from webapi.models import ApiKey, Label, Membership, Project, Prompt, PromptVersion

_K, _PR, _M = ApiKey.__table__, Project.__table__, Membership.__table__
_P, _V = Prompt.__table__, PromptVersion.__table__
_BY_LABEL = Label.__table__.alias("by_label")
_ON_VERSION = Label.__table__.alias("on_version")


def _statement(ref: str, full: bool) -> Select[Any]:
    """The key by prefix, left-joined with the prompt version asked for and its labels.

    Always one row per label on the version (or one row): a key that exists but names no such
    prompt/version still comes back, with NULL version columns."""
    columns = [_K.c.id, _K.c.role, _K.c.secret_hash, _K.c.revoked_at, _K.c.last_used_at,
               _PR.c.slug, _M.c.role, _V.c.version, _V.c.sha256]
    joined = (
        _K.join(_PR, _PR.c.id == _K.c.project_id)
        .outerjoin(_M, (_M.c.project_id == _K.c.project_id) & (_M.c.user_id == _K.c.created_by_id))
        .outerjoin(_P, (_P.c.project_id == _K.c.project_id) & (_P.c.slug == bindparam("slug")))
    )
    if ref == "label":
        joined = joined.outerjoin(_BY_LABEL, (_BY_LABEL.c.prompt_id == _P.c.id)
                                  & (_BY_LABEL.c.name == bindparam("label")))
        number: Any = _BY_LABEL.c.version
    else:
        number = bindparam("version") if ref == "version" else _P.c.latest_version
    joined = joined.outerjoin(_V, (_V.c.prompt_id == _P.c.id) & (_V.c.version == number))
    if full:
        columns += [_V.c.data, _V.c.message, _V.c.author, _V.c.created_at, _V.c.git,
                    _V.c.source, _ON_VERSION.c.name]
        joined = joined.outerjoin(_ON_VERSION, (_ON_VERSION.c.prompt_id == _P.c.id)
                                  & (_ON_VERSION.c.version == _V.c.version))
    return select(*columns).select_from(joined).where(_K.c.prefix == bindparam("prefix"))


# Built once, so every fetch hits SQLAlchemy's compiled cache without building an expression.
# full=False reads only the number and hash: enough to answer If-None-Match with a 304.
_STATEMENTS = {(ref, full): _statement(ref, full)
               for ref in ("latest", "version", "label") for full in (True, False)}
_TOUCH = update(_K).where(_K.c.id == bindparam("key_id")).values(last_used_at=bindparam("now"))
_TOUCH_PG = str(_TOUCH.compile(dialect=PGDialect_psycopg2()))  # %(name)s parameters

# Postgres plans a statement on every execution unless it is prepared, and for this join the
# planning took ~0.2 ms of server CPU against ~0.03 ms of execution; so each pooled connection
# PREPAREs a fetch statement once, then EXECUTEs it (SQLite's driver already keeps compiled
# statements by their text). SQL-level PREPARE needs a session per connection: direct
# connections, or a pooler in session mode, not one in transaction mode.
_PG = PGDialect_psycopg2(paramstyle="numeric_dollar")


def _prepared(ref: str, full: bool) -> tuple[str, str, str, tuple[str, ...]]:
    compiled = _STATEMENTS[ref, full].compile(dialect=_PG)
    order = tuple(compiled.positiontup or ())
    name = f"promptsync_fetch_{ref}_{'full' if full else 'etag'}"
    return (name, f"PREPARE {name} AS {compiled}",
            f"EXECUTE {name} ({', '.join(['%s'] * len(order))})", order)


_PREPARED = {key: _prepared(*key) for key in _STATEMENTS}


class _CoreReader:
    """SQLite: the fetch statements through SQLAlchemy Core on one pooled connection (its driver
    keeps compiled statements by their text, and opens no transaction for a SELECT)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def rows(self, ref: str, full: bool, params: dict[str, Any]) -> list[Any]:
        return list(self.conn.execute(_STATEMENTS[ref, full], params))

    def touch(self, key_id: int, now: dt.datetime) -> None:
        self.conn.execute(_TOUCH, {"key_id": key_id, "now": now})
        self.conn.commit()


class _PgConnection:
    """One psycopg2 connection of the fetch path, in autocommit, with the statements it has
    PREPAREd (those live as long as the connection)."""

    __slots__ = ("born", "driver", "fairy", "prepared")

    def __init__(self, engine: Engine) -> None:
        # From the engine's pool (its connect arguments and events), then detached: the fetch
        # path keeps its own few connections, see _IdleConnections.
        fairy = engine.raw_connection()
        fairy.detach()
        driver: Any = fairy.dbapi_connection
        # The driver's flag alone sends nothing; SQLAlchemy's isolation_level="AUTOCOMMIT" goes
        # through psycopg2's set_isolation_level, which sends a SET on checkout and on return.
        driver.autocommit = True
        self.fairy, self.driver, self.born = fairy, driver, time.monotonic()
        self.prepared: set[str] = set()

    def close(self) -> None:
        self.fairy.close()  # detached: closes the DBAPI connection


class _IdleConnections:
    """The idle fetch connections of one engine in one process: a LIFO stack, no more than
    MAX_IDLE. A checkout from SQLAlchemy's pool and the return (the fairy, its reset and
    events) cost the worker more CPU than the fetch statement itself; list.pop and
    list.append are atomic under the GIL, so threaded servers share the stack safely."""

    def __init__(self, engine: Engine) -> None:
        self.pid = os.getpid()
        self.stack: list[_PgConnection] = []
        event.listen(engine, "engine_disposed", lambda _conn: self.close_all())

    def pop(self) -> _PgConnection | None:
        if self.pid != os.getpid():  # forked: the parent's sockets are not ours to use or close
            _INHERITED.extend(self.stack)
            self.stack, self.pid = [], os.getpid()
        while self.stack:
            try:
                conn = self.stack.pop()
            except IndexError:  # another thread took the last one
                return None
            if time.monotonic() - conn.born < RECYCLE_SECONDS:
                return conn
            conn.close()  # retired as the pool retires its own (pool_recycle)
        return None

    def push(self, conn: _PgConnection) -> None:
        if len(self.stack) < MAX_IDLE and not conn.driver.closed:
            self.stack.append(conn)
        else:
            conn.close()

    def close_all(self) -> None:
        """Close every idle connection: the engine is disposed, or the database went away."""
        stack, self.stack = self.stack, []
        for conn in stack:
            with suppress(Exception):
                conn.close()


MAX_IDLE = 5  # a sync worker needs one; a threaded one, one per concurrent fetch
_INHERITED: list[_PgConnection] = []  # kept referenced after a fork: never closed by the child
_IDLE: weakref.WeakKeyDictionary[Engine, _IdleConnections] = weakref.WeakKeyDictionary()
_IDLE_LOCK = threading.Lock()


def _idle(engine: Engine) -> _IdleConnections:
    idle = _IDLE.get(engine)
    if idle is None:
        with _IDLE_LOCK:
            idle = _IDLE.get(engine) or _IDLE.setdefault(engine, _IdleConnections(engine))
    return idle


def idle_pg_connections(engine: Engine) -> list[Any]:
    """The DBAPI connections the fetch path holds idle (for tests that watch its statements)."""
    return [conn.driver for conn in _idle(engine).stack]


class _PgReader:
    """Postgres: the prepared fetch statement on the raw psycopg2 cursor of one of the fetch
    path's own connections, in autocommit (one round trip per statement: no BEGIN, no ROLLBACK).

    Below SQLAlchemy's Connection, whose execution context and result object cost more worker
    CPU than the statement's round trip (~17 columns of result metadata per fetch); psycopg2
    decodes json and timestamp columns itself, as it did under exec_driver_sql. What the
    Connection did on errors is done here: a lost connection is recognised by the dialect's own
    is_disconnect, discarded with the other idle ones, and the pool invalidated (its connections
    predate the outage too), and every driver error leaves as SQLAlchemy's DBAPIError, as before.

    A lost connection on a fetch statement is retried once, on a fresh connection: the first
    fetch after a Postgres restart then succeeds instead of answering 503. Only the read-only
    fetch statements are retried (running them twice changes nothing); the last_used_at write
    never is. A second loss, or a refused connect, is the outage: 503 by errors.py."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.idle = _idle(engine)
        self.error = engine.dialect.loaded_dbapi.Error
        self.conn: _PgConnection | None = None
        self.cursor: Any = None
        self.retry = True

    def _checkout(self) -> Any:
        conn = self.idle.pop()
        if conn is None:
            conn = _PgConnection(self.engine)  # refused: the outage, 503 by errors.py
        self.conn, self.cursor = conn, conn.driver.cursor()
        return self.cursor

    def _failed(self, exc: Any, statement: str, args: Any) -> Exception:
        """Discard the connection if exc means it is lost; the error to raise either way."""
        conn = self.conn
        lost = conn is not None and self.engine.dialect.is_disconnect(exc, conn.driver,
                                                                       self.cursor)
        if lost:
            assert conn is not None
            # What Connection does: connections older than now are replaced at their next
            # checkout (_checkin=False: ours is detached, and closed just below).
            self.engine.pool._invalidate(conn.fairy, exc, _checkin=False)  # noqa: SLF001
            conn.close()
            self.idle.close_all()
            self.conn = self.cursor = None
        return DBAPIError.instance(statement, args, exc, self.error, connection_invalidated=lost,
                                   dialect=self.engine.dialect)

    def rows(self, ref: str, full: bool, params: dict[str, Any]) -> list[Any]:
        name, prepare, execute, order = _PREPARED[ref, full]
        args = tuple(params[key] for key in order)
        while True:
            cursor = self.cursor if self.conn is not None else self._checkout()
            assert self.conn is not None
            statement = execute
            try:
                if name not in self.conn.prepared:
                    statement = prepare
                    cursor.execute(prepare)
                    self.conn.prepared.add(name)
                    statement = execute
                cursor.execute(execute, args)
                return cursor.fetchall()
            except self.error as exc:
                error = self._failed(exc, statement, args)
                if self.conn is not None or not self.retry:
                    raise error from exc
                self.retry = False  # once per request; the next attempt is on a fresh one

    def touch(self, key_id: int, now: dt.datetime) -> None:
        assert self.cursor is not None
        try:
            self.cursor.execute(_TOUCH_PG, {"key_id": key_id, "now": now})  # autocommit
        except self.error as exc:
            raise self._failed(exc, _TOUCH_PG, None) from exc

    def close(self) -> None:
        conn, self.conn, self.cursor = self.conn, None, None
        if conn is not None:
            self.idle.push(conn)


Reader = _CoreReader | _PgReader  # what fetch code gets from reader()


@contextmanager
def reader(engine: Engine) -> Iterator[Reader]:
    """What runs the fetch statements for one request: see _CoreReader and _PgReader."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            yield _CoreReader(conn)
        return
    pg = _PgReader(engine)
    try:
        yield pg
    finally:
        pg.close()
