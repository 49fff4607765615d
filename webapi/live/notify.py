"""How a committed event wakes the hubs: NOTIFY for every process on Postgres, a local wake-up
after commit in this one, and the Postgres connection each process LISTENs on."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from webapi.services.events import LOGGED

CHANNEL = "promptsync_events"
_installed = False


def install_commit_hooks(wake_local: Callable[[], None]) -> None:
    """Once per process: after a commit that logged an event, tell the hubs."""
    global _installed
    if _installed:
        return
    _installed = True
    # On the Session class, so every session of every app has them; they do nothing unless
    # log_event marked the transaction.

    @event.listens_for(Session, "before_commit")
    def _notify(session: Session) -> None:
        if session.info.get(LOGGED) and session.get_bind().dialect.name == "postgresql":
            # Postgres holds a NOTIFY until the transaction commits and drops it on rollback:
            # no listener hears of an event it cannot read yet. One per transaction (payload
            # unused: the hubs read the table after their last id).
            session.execute(text(f"NOTIFY {CHANNEL}"))

    @event.listens_for(Session, "after_commit")
    def _wake(session: Session) -> None:
        if session.info.pop(LOGGED, None):
            wake_local()  # this process's hubs need not wait for the NOTIFY's round trip

    @event.listens_for(Session, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(LOGGED, None)


class Waker:
    """A socket pair: wake() from any thread makes the hub's select() return."""

    def __init__(self) -> None:
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)

    def fileno(self) -> int:
        return self._read.fileno()

    def wake(self) -> None:
        try:
            self._write.send(b"x")
        except BlockingIOError:
            pass  # already full of wake-ups: one is enough
        except OSError:
            pass  # closed: its hub's thread ended meanwhile and has nothing to wake

    def drain(self) -> None:
        try:
            while self._read.recv(4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        self._read.close()
        self._write.close()


class PgListener:
    """One Postgres connection of this process, LISTENing on CHANNEL (outside the pool)."""

    def __init__(self, engine: Engine) -> None:
        fairy = engine.raw_connection()
        fairy.detach()  # held for the hub's life: it must not count against the pool
        driver: Any = fairy.dbapi_connection
        driver.autocommit = True
        with driver.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        self._fairy, self._driver, self.pid = fairy, driver, os.getpid()

    def fileno(self) -> int:
        return int(self._driver.fileno())

    def drain(self) -> int:
        """Read what arrived; the number of notifications (raises when the connection died)."""
        self._driver.poll()
        count = len(self._driver.notifies)
        self._driver.notifies.clear()
        return count

    def close(self) -> None:
        try:
            self._fairy.close()
        except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone
            pass
