"""One real app per database and settings in a test process, lent from test to test, and the
reset of the database under it.

Building the app costs ~20 ms (werkzeug compiles code for each URL rule) and its first requests
more (SQLAlchemy compiles its statements and Jinja its templates, per engine and per app): more
than most tests cost themselves. So the `app` fixtures lend a kept app, over a database emptied
for each test (SQLite: the file replaced by a copy of the migrated template; Postgres: every
table emptied). An app a test changed (its config, request hooks, URL rules, WSGI callable or
engine listeners) or one lent to a test that failed is disposed of, and the next test gets a
new one.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import pytest
from flask import Flask
from psycopg2.extensions import connection as PgConnection

from tests.support.app import dispose_app, make_app
from webapi.extensions import db

# Set on a test's item by the root conftest when any phase of it failed.
FAILED = pytest.StashKey[bool]()
T = TypeVar("T")

# Every table but alembic's emptied, every sequence restarted (ids from 1, as a new database
# gives): one round trip, and always the current schema. DELETE, not TRUNCATE: on tables of a
# few rows it is several times faster, and TRUNCATE makes new files for every table and index.
# The replica role skips the foreign-key triggers, so the order of the tables does not matter.
_EMPTY_POSTGRES = """
DO $$
DECLARE r record;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR r IN SELECT tablename FROM pg_tables
           WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM %I', r.tablename);
  END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
    EXECUTE format('ALTER SEQUENCE %I RESTART', r.sequencename);
  END LOOP;
END $$;
"""


def _fingerprint(app: Flask) -> tuple[Any, ...]:
    """What a test could change on an app and leave behind."""
    with app.app_context():
        engine = db.engine
    # Not engine_disposed: the fast fetch's connections listen for it from the first fetch on.
    dispatches: list[Any] = [engine.dispatch, engine.pool.dispatch]
    listeners = [len(getattr(dispatch, name)) for dispatch in dispatches
                 for name in dispatch._event_names  # noqa: SLF001
                 if name != "engine_disposed"]
    hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs,
             app.teardown_appcontext_funcs, app.url_value_preprocessors,
             app.url_default_functions, app.template_context_processors,
             app.error_handler_spec)
    return (_copy(dict(app.config)), app.wsgi_app, app.session_interface, app.secret_key,
            len(list(app.url_map.iter_rules())), tuple(app.extensions),
            tuple(sorted(app.jinja_env.globals)), tuple(listeners), _plain(hooks))


def _plain(node: Any) -> Any:
    """Containers as plain values, with the empty entries Flask's defaultdicts grow on lookup
    (every request looks hooks up by blueprint name) left out."""
    if isinstance(node, dict):
        plain = {key: _plain(value) for key, value in node.items()}
        return {key: value for key, value in plain.items() if value}
    if isinstance(node, list | tuple):
        return tuple(_plain(value) for value in node)
    return node


def _copy(config: dict[str, Any]) -> dict[str, Any]:
    copied = {}
    for name, value in config.items():
        try:
            copied[name] = copy.deepcopy(value)
        except Exception:  # an object that cannot be copied: compared as it is
            copied[name] = value
    return copied


class SharedApps:
    """The apps kept in this test process, by database URL and settings."""

    def __init__(self) -> None:
        self._apps: dict[tuple[str, str], tuple[Flask, tuple[Any, ...]]] = {}
        self._resets: dict[str, PgConnection] = {}

    @contextmanager
    def lend(self, url: str, item: pytest.Item, **overrides: Any) -> Iterator[Flask]:
        """The kept app for ``url`` and ``overrides`` (made on first use) for one test."""
        key = (url, repr(sorted(overrides.items())))
        if key not in self._apps:
            app = make_app(url, **overrides)
            self._apps[key] = (app, _fingerprint(app))
        app, fingerprint = self._apps[key]
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
            if item.stash.get(FAILED, False) or _fingerprint(app) != fingerprint:
                del self._apps[key]
                dispose_app(app)

    def release(self, url: str) -> None:
        """Close the pooled connections of the apps on ``url`` (its file is to be replaced)."""
        for (app_url, _), (app, _) in self._apps.items():
            if app_url == url:
                with app.app_context():
                    db.session.remove()
                    db.engine.dispose()

    def empty_postgres(self, url: str) -> None:
        """Empty every table of the migrated Postgres database at ``url``."""
        self.on_postgres(url, lambda cur: cur.execute(_EMPTY_POSTGRES))

    def on_postgres(self, url: str, work: Callable[[Any], T]) -> T:
        """``work(cursor)`` on this process's own connection to ``url`` (autocommit), connected
        again if a test ended its backend (``work`` must be safe to run again then)."""
        conn = self._resets.get(url)
        if conn is not None:
            try:
                with conn.cursor() as cur:
                    return work(cur)
            except psycopg2.OperationalError:  # a test ended this connection's backend
                conn.close()
        conn = self._resets[url] = psycopg2.connect(url)
        conn.autocommit = True
        with conn.cursor() as cur:
            return work(cur)

    def close(self) -> None:
        """Dispose of every kept app and close the connections of the resets."""
        for app, _ in self._apps.values():
            dispose_app(app)
        self._apps.clear()
        for conn in self._resets.values():
            conn.close()
        self._resets.clear()


def restore_sqlite(template: Path, path: Path) -> None:
    """Make ``path`` a fresh copy of the ``template`` database, as a new file: a connection some
    test left open keeps the old one, and no old write-ahead log can be replayed into it."""
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    fresh = path.with_name(path.name + ".new")
    shutil.copyfile(template, fresh)
    os.replace(fresh, path)
