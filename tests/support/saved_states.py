"""Database states a test process makes once through the API (the `account`, the admin `team`)
and puts back for each later test that asks for the same state, instead of making it again.

Making one takes a dozen requests or more (sign-ups, logins, invitations, keys); putting it back
is a file copy on SQLite and a COPY per table on Postgres. The rows put back are those the API
made the first time, ids and keys included; only their timestamps are from then (at most the
length of the run ago), as if the account had been made a little before the test. A state is
only put back on a database as the reset left it (every table empty): a test whose other
fixtures wrote first gets one made afresh.
"""

from __future__ import annotations

import copy
import io
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask

from tests.support.shared_apps import SharedApps, restore_sqlite
from webapi.extensions import db

T = TypeVar("T")
SQLITE = "sqlite:///"
_PG_TABLES = ("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
              "AND tablename <> 'alembic_version' ORDER BY tablename")
_PG_SEQUENCES = "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"


@dataclass
class _Saved:
    """A saved state: a SQLite file, or each Postgres table's COPY and each sequence's value."""

    value: Any
    file: Path | None = None
    tables: list[tuple[str, bytes]] | None = None
    sequences: list[tuple[str, int, bool]] | None = None


class SavedStates:
    """The states saved in this process, by name and database URL."""

    def __init__(self, apps: SharedApps, folder: Path) -> None:
        self.apps, self.folder = apps, folder
        self._saved: dict[tuple[str, str], _Saved] = {}

    def get(self, app: Flask, name: str, make: Callable[[Flask], T]) -> T:
        """What ``make(app)`` returns, and the database as it leaves it: made the first time,
        put back (and a copy of the value returned) after that."""
        # The URL the fixtures gave, not the app's form of it (postgresql+psycopg2://).
        url = str(app.config["SQLALCHEMY_DATABASE_URI"]).replace("+psycopg2://", "://", 1)
        if not self._empty(url):
            return make(app)
        saved = self._saved.get((name, url))
        if saved is None:
            value = make(app)
            self._saved[(name, url)] = self._take(app, url, name, value)
            return value
        self._put_back(app, url, saved)
        again: T = copy.deepcopy(saved.value)
        return again

    def _empty(self, url: str) -> bool:
        if url.startswith(SQLITE):
            with sqlite3.connect(url.removeprefix(SQLITE)) as conn:
                tables = [row[0] for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                    "('alembic_version', 'sqlite_sequence')")]
                found = conn.execute(_any_row(tables)).fetchone()[0]
            conn.close()
            return not found

        def any_row(cur: Any) -> bool:
            cur.execute(_PG_TABLES)
            cur.execute(_any_row([row[0] for row in cur.fetchall()]))
            return bool(cur.fetchone()[0])

        return not self.apps.on_postgres(url, any_row)

    def _take(self, app: Flask, url: str, name: str, value: Any) -> _Saved:
        with app.app_context():
            db.session.remove()
        if url.startswith(SQLITE):
            file = self.folder / f"{name}-{len(self._saved)}.db"
            source, target = sqlite3.connect(url.removeprefix(SQLITE)), sqlite3.connect(file)
            source.backup(target)  # consistent whatever the write-ahead log holds
            source.close()
            target.close()
            return _Saved(copy.deepcopy(value), file=file)

        def dump(cur: Any) -> _Saved:
            cur.execute(_PG_TABLES)
            tables = []
            for (table,) in cur.fetchall():
                data = io.BytesIO()
                cur.copy_expert(f'COPY "{table}" TO STDOUT', data)
                if data.getvalue():
                    tables.append((table, data.getvalue()))
            cur.execute(_PG_SEQUENCES)
            sequences = []
            for (sequence,) in cur.fetchall():
                cur.execute(f'SELECT last_value, is_called FROM "{sequence}"')
                last, called = cur.fetchone()
                sequences.append((sequence, int(last), bool(called)))
            return _Saved(copy.deepcopy(value), tables=tables, sequences=sequences)

        return self.apps.on_postgres(url, dump)

    def _put_back(self, app: Flask, url: str, saved: _Saved) -> None:
        with app.app_context():
            db.session.remove()
            if saved.file is not None:
                db.engine.dispose()  # no pooled connection to the file being replaced
        if saved.file is not None:
            self.apps.release(url)
            restore_sqlite(saved.file, Path(url.removeprefix(SQLITE)))
            return

        def load(cur: Any) -> None:
            cur.execute("BEGIN")
            try:
                cur.execute("SET LOCAL session_replication_role = replica")  # any table order
                for table, data in saved.tables or []:
                    cur.copy_expert(f'COPY "{table}" FROM STDIN', io.BytesIO(data))
                for sequence, last, called in saved.sequences or []:
                    cur.execute("SELECT setval(%s, %s, %s)", (sequence, last, called))
            except BaseException:
                if not cur.connection.closed:
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

        self.apps.on_postgres(url, load)


def _any_row(tables: list[str]) -> str:
    """One statement: whether any of ``tables`` holds a row."""
    checks = " OR ".join(f'EXISTS (SELECT 1 FROM "{table}")' for table in tables)
    return f"SELECT {checks or 'FALSE'}"
