"""What runs the key-scoped fetch statements of one request: one round trip, no ORM Session.

SQLite: SQLAlchemy Core on a pooled connection (its driver keeps compiled statements by their
text, and opens no transaction for a SELECT). Postgres: the statement PREPAREd once per
connection and EXECUTEd on the raw psycopg2 cursor of one of the fetch's own connections
(webapi.fetch.connections), in autocommit: no BEGIN, no ROLLBACK, no planning per fetch.

The Postgres reader works below SQLAlchemy's Connection, whose execution context and result
object cost more worker CPU than the statement's round trip (psycopg2 decodes the json and
timestamp columns itself), so it does by hand what the Connection does on errors: a lost
connection is recognised by the dialect's own is_disconnect, discarded with the other idle ones,
and the engine's pool invalidated (its connections predate the outage too); every driver error
leaves as SQLAlchemy's DBAPIError, which errors.py answers 503. A lost connection on a fetch
statement is retried once, on a fresh connection, so the first fetch after a Postgres restart
succeeds; only the read-only statements are retried (running them twice changes nothing), never
the last_used_at write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from webapi.fetch.connections import FetchConnection, IdleConnections, idle_connections
from webapi.fetch.statements import STATEMENTS, TOUCH, Ref, Scope

# Postgres plans a statement on every execution unless it is prepared, and for this join the
# planning took ~0.2 ms of server CPU against ~0.03 ms of execution; so each connection
# PREPAREs a fetch statement once, then EXECUTEs it. SQL-level PREPARE needs a server session
# per connection: direct connections, or a pooler in session mode, not one in transaction mode.
_PG = PGDialect_psycopg2(paramstyle="numeric_dollar")
_TOUCH_PG = str(TOUCH.compile(dialect=PGDialect_psycopg2()))  # %(name)s parameters


class _Prepared:
    """One key-scoped statement as Postgres runs it: PREPARE once, then EXECUTE by name."""

    __slots__ = ("execute", "name", "order", "prepare")

    def __init__(self, ref: Ref, full: bool) -> None:
        compiled = STATEMENTS[Scope.KEY, ref, full].compile(dialect=_PG)
        self.order = tuple(compiled.positiontup or ())
        self.name = f"promptsync_fetch_{ref.value}_{'full' if full else 'etag'}"
        self.prepare = f"PREPARE {self.name} AS {compiled}"
        self.execute = f"EXECUTE {self.name} ({', '.join(['%s'] * len(self.order))})"


_PREPARED = {(ref, full): _Prepared(ref, full) for ref in Ref for full in (True, False)}
_KEY_STATEMENTS = {(ref, full): STATEMENTS[Scope.KEY, ref, full]
                   for ref in Ref for full in (True, False)}


class CoreReader:
    """SQLite: the key-scoped statements through SQLAlchemy Core on one pooled connection."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()

    def __enter__(self) -> CoreReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.conn.close()

    def rows(self, ref: Ref, full: bool, params: dict[str, Any]) -> list[Any]:
        """The rows of one key-scoped statement."""
        return list(self.conn.execute(_KEY_STATEMENTS[ref, full], params))

    def touch(self, key_id: int, now: dt.datetime) -> None:
        """Write the key's last_used_at."""
        self.conn.execute(TOUCH, {"key_id": key_id, "now": now})
        self.conn.commit()


class PgReader:
    """Postgres: the prepared statements on the raw psycopg2 cursor, in autocommit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.idle: IdleConnections = idle_connections(engine)
        self.error = self.idle.error
        self.conn: FetchConnection | None = None
        self.cursor: Any = None
        self.retry = True

    def __enter__(self) -> PgReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _failed(self, exc: Any, statement: str, args: Any) -> Exception:
        """Discard the connection if exc means it is lost; the error to raise either way."""
        conn = self.conn
        lost = conn is not None and self.engine.dialect.is_disconnect(exc, conn.driver,
                                                                       self.cursor)
        if lost:
            assert conn is not None
            # What Connection does: the pool's connections older than now are replaced at their
            # next checkout (_checkin=False: ours is detached, and closed just below).
            self.engine.pool._invalidate(conn.fairy, exc, _checkin=False)  # noqa: SLF001
            conn.close()
            self.idle.close_all()
            self.conn = self.cursor = None
        return DBAPIError.instance(statement, args, exc, self.error, connection_invalidated=lost,
                                   dialect=self.engine.dialect)

    def rows(self, ref: Ref, full: bool, params: dict[str, Any]) -> list[Any]:
        """The rows of one key-scoped statement, retried once on a fresh connection if lost."""
        prepared = _PREPARED[ref, full]
        args = tuple(params[key] for key in prepared.order)
        while True:
            if self.conn is None:
                self.conn = self.idle.take()
                self.cursor = self.conn.driver.cursor()
            statement = prepared.execute
            try:
                if prepared.name not in self.conn.prepared:
                    statement = prepared.prepare
                    self.cursor.execute(statement)
                    self.conn.prepared.add(prepared.name)
                    statement = prepared.execute
                self.cursor.execute(statement, args)
                return self.cursor.fetchall()
            except self.error as exc:
                error = self._failed(exc, statement, args)
                if self.conn is not None or not self.retry:
                    raise error from exc
                self.retry = False  # once per request; the next attempt is on a fresh one

    def touch(self, key_id: int, now: dt.datetime) -> None:
        """Write the key's last_used_at (never retried)."""
        try:
            self.cursor.execute(_TOUCH_PG, {"key_id": key_id, "now": now})  # autocommit
        except self.error as exc:
            raise self._failed(exc, _TOUCH_PG, None) from exc

    def close(self) -> None:
        """Give the connection back for the next fetch."""
        conn, self.conn, self.cursor = self.conn, None, None
        if conn is not None:
            self.idle.give_back(conn)


Reader = CoreReader | PgReader


def reader(engine: Engine) -> Reader:
    """What runs the key-scoped statements of one request, in a `with` block."""
    # Plain classes rather than a @contextmanager generator: its machinery cost the fetch three
    # more Python calls per request.
    return PgReader(engine) if engine.dialect.name == "postgresql" else CoreReader(engine)
