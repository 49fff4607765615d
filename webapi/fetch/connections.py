"""The Postgres connections the key fetch keeps for itself, a few per engine and process.

Why not SQLAlchemy's pool: a checkout from it and the return (the connection fairy, its events,
the queue's lock) add 13-16% to the instructions of a whole in-process fast fetch, more in CPU
time, over this LIFO list (measured side by side by `python -m benchmarks fetch-pool`; figures
in docs/BENCHMARKS.md, issue 11). So the few rules of a pool the fetch needs are kept here by
hand, each mirroring what SQLAlchemy's pool does for the Session's connections:
connections come from the engine's pool (its connect arguments, libpq's connect_timeout among
them, and events) and are detached;
retired after POOL_RECYCLE_SECONDS (pool_recycle); checked before use, as webapi.database checks
the pool's (a connection the server closed is replaced); closed when the engine is disposed; never
used or closed by a forked child (the parent's sockets); and all closed when one is found lost
(webapi.fetch.readers invalidates the engine's pool beside them, as a Connection would).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from contextlib import suppress
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from webapi.database import POOL_RECYCLE_SECONDS, hung_up

MAX_IDLE = 5  # a sync worker needs one; a threaded one, one per concurrent fetch


class ConnectFailed(OperationalError):
    """The fetch could not connect: lookup_once keeps it, so the request does not wait twice."""


class FetchConnection:
    """One psycopg2 connection of the fetch, in autocommit, and the statements it PREPAREd."""

    __slots__ = ("born", "driver", "fairy", "prepared")

    def __init__(self, engine: Engine) -> None:
        try:
            fairy = engine.raw_connection()
        except engine.dialect.loaded_dbapi.Error as exc:  # the pool raises the driver's own
            raise ConnectFailed(None, None, exc) from exc  # the outage: errors.py's 503
        fairy.detach()
        driver: Any = fairy.dbapi_connection
        # The driver's flag alone sends nothing; SQLAlchemy's isolation_level="AUTOCOMMIT" goes
        # through psycopg2's set_isolation_level, which sends a SET on checkout and on return.
        driver.autocommit = True
        self.fairy, self.driver, self.born = fairy, driver, time.monotonic()
        self.prepared: set[str] = set()

    def close(self) -> None:
        """Close the DBAPI connection (the fairy is detached: nothing returns to the pool)."""
        self.fairy.close()


class IdleConnections:
    """The idle fetch connections of one engine in one process: a LIFO stack of MAX_IDLE."""
    # list.pop and list.append are atomic under the GIL: threaded servers share it without a lock.

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.error: type[Exception] = engine.dialect.loaded_dbapi.Error  # the driver's base error
        self.pid = os.getpid()
        self.stack: list[FetchConnection] = []
        event.listen(engine, "engine_disposed", lambda _conn: self.close_all())

    def take(self) -> FetchConnection:
        """An idle connection young enough to use and still open on the server, else a new one."""
        if self.pid != os.getpid():  # forked: the parent's sockets are not ours to use or close
            _INHERITED.extend(self.stack)
            self.stack, self.pid = [], os.getpid()
        while self.stack:
            try:
                conn = self.stack.pop()
            except IndexError:  # another thread took the last one
                break
            if time.monotonic() - conn.born < POOL_RECYCLE_SECONDS and not hung_up(conn.driver):
                return conn
            conn.close()  # retired as the pool retires its own (pool_recycle), or found dead
        return FetchConnection(self.engine)

    def give_back(self, conn: FetchConnection) -> None:
        """Keep a connection for the next fetch, or close it when enough are idle."""
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


_INHERITED: list[FetchConnection] = []  # kept referenced after a fork: never closed by the child
_IDLE: weakref.WeakKeyDictionary[Engine, IdleConnections] = weakref.WeakKeyDictionary()
_IDLE_LOCK = threading.Lock()


def idle_connections(engine: Engine) -> IdleConnections:
    """The fetch connections of this engine (made on first use, one set per engine)."""
    idle = _IDLE.get(engine)
    if idle is None:
        with _IDLE_LOCK:
            idle = _IDLE.get(engine) or _IDLE.setdefault(engine, IdleConnections(engine))
    return idle
