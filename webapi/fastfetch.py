"""The hot path: GET one prompt version with an API key, in one statement on one connection.

An app fetching its prompt by slug is the request the server answers most (SPEC §8). Here the
key row (hash, revocation, role, project, the creator's current membership) and the version
asked for (latest, ?version= or ?label=, with the labels on it) come back from ONE prebuilt Core
statement, run on a pooled connection (autocommit on Postgres) without the ORM Session: one
database round trip, no BEGIN, no ROLLBACK, no identity map; on Postgres a prepared statement,
so not even planning, run on the raw driver cursor, and retried once on a fresh connection when
the pooled one turns out lost (see _PgReader).

The key is checked from that row by the general path's own rules (auth.check_key), and nothing
about it is cached between requests, so a revoked key or a removed creator fails on the very
next request. Only success (200, or 304 for a matching If-None-Match) is answered here; for
anything else — another project's key, an unknown prompt, version or label, a malformed query
argument — fetch() returns None and the caller takes the general path (auth.project_role,
versions.fetch_version), which words every such error in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from promptsync.prompts import slug_problem

from .auth import MALFORMED_KEY, check_key, touch_due
from .errors import HttpError
from .extensions import db
from .models import ApiKey, Label, Membership, Project, Prompt, PromptVersion
from .security import split_key
from .versions import FetchedVersion, version_dict

PINNED_CACHE = "private, max-age=31536000, immutable"
MOVING_CACHE = "private, no-cache"
VARY = "X-API-Key, Authorization, Cookie"
MAX_VERSION = 2**31 - 1

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


class _PgReader:
    """Postgres: the prepared fetch statement on the raw psycopg2 cursor of a pooled connection,
    in autocommit for the request (one round trip per statement: no BEGIN, no ROLLBACK).

    Below SQLAlchemy's Connection, whose execution context and result object cost more worker
    CPU than the statement's round trip (~17 columns of result metadata per fetch); psycopg2
    decodes json and timestamp columns itself, as it did under exec_driver_sql. What the
    Connection did on errors is done here: a lost connection is recognised by the dialect's own
    is_disconnect, discarded, and the pool invalidated (its other connections predate the
    outage too), and every driver error leaves as SQLAlchemy's DBAPIError, as before.

    A lost connection on a fetch statement is retried once, on a fresh connection: the first
    fetch after a Postgres restart then succeeds instead of answering 503. Only the read-only
    fetch statements are retried (running them twice changes nothing); the last_used_at write
    never is. A second loss, or a refused connect, is the outage: 503 by errors.py."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.error = engine.dialect.loaded_dbapi.Error
        self.fairy: PoolProxiedConnection | None = None
        self.cursor: Any = None
        self.prepared: set[str] = set()
        self.retry = True

    def _checkout(self) -> Any:
        fairy = self.engine.raw_connection()
        driver: Any = fairy.dbapi_connection
        # The driver's flag alone sends nothing; SQLAlchemy's isolation_level="AUTOCOMMIT" goes
        # through psycopg2's set_isolation_level, which sends a SET on checkout and on return.
        driver.autocommit = True
        self.fairy, self.cursor = fairy, driver.cursor()
        # PREPAREd names live as long as this DBAPI connection, and so does its info dict.
        self.prepared = fairy.info.setdefault("promptsync.prepared", set())
        return self.cursor

    def _failed(self, exc: Any, statement: str, args: Any) -> Exception:
        """Discard the connection if exc means it is lost; the error to raise either way."""
        fairy = self.fairy
        lost = fairy is not None and self.engine.dialect.is_disconnect(
            exc, fairy.dbapi_connection, self.cursor)
        if lost:
            assert fairy is not None
            self.engine.pool._invalidate(fairy, exc)  # noqa: SLF001 (what Connection does)
            fairy.close()
            self.fairy = self.cursor = None
        return DBAPIError.instance(statement, args, exc, self.error, connection_invalidated=lost,
                                   dialect=self.engine.dialect)

    def rows(self, ref: str, full: bool, params: dict[str, Any]) -> list[Any]:
        name, prepare, execute, order = _PREPARED[ref, full]
        args = tuple(params[key] for key in order)
        while True:
            cursor = self.cursor if self.fairy is not None else self._checkout()
            statement = execute
            try:
                if name not in self.prepared:
                    statement = prepare
                    cursor.execute(prepare)
                    self.prepared.add(name)
                    statement = execute
                cursor.execute(execute, args)
                return cursor.fetchall()
            except self.error as exc:
                error = self._failed(exc, statement, args)
                if self.fairy is not None or not self.retry:
                    raise error from exc
                self.retry = False  # once per request; the next attempt is on a fresh one

    def touch(self, key_id: int, now: dt.datetime) -> None:
        assert self.cursor is not None
        try:
            self.cursor.execute(_TOUCH_PG, {"key_id": key_id, "now": now})  # autocommit
        except self.error as exc:
            raise self._failed(exc, _TOUCH_PG, None) from exc

    def close(self) -> None:
        fairy, self.fairy, self.cursor = self.fairy, None, None
        if fairy is None:
            return
        try:
            driver: Any = fairy.dbapi_connection
            driver.autocommit = False  # as the Session path expects it
        except self.error as exc:  # closed under us: not fit to go back to the pool
            fairy.invalidate(exc)
        fairy.close()


@contextmanager
def _reader() -> Iterator[_CoreReader | _PgReader]:
    """What runs the fetch statements for one request: see _CoreReader and _PgReader."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            yield _CoreReader(conn)
        return
    reader = _PgReader(engine)
    try:
        yield reader
    finally:
        reader.close()


def fetch(plaintext: str, project_slug: str | None, slug: str) -> Response | None:
    """Answer GET {project}/prompts/{slug} for an API key, or None for the general path.

    project_slug None is the /prompts/{slug} shorthand: the key's own project."""
    args = request.args
    raw_version, label = args.get("version") or None, args.get("label")
    if raw_version is not None and (
        label is not None or not (raw_version.isascii() and raw_version.isdigit())
        or not 1 <= int(raw_version) <= MAX_VERSION
    ):
        return None  # a 400, worded by the general path after it has checked the key
    if slug_problem(slug) is not None:
        return None
    prefix = split_key(plaintext)
    if prefix is None:
        raise HttpError(401, MALFORMED_KEY)
    params: dict[str, Any] = {"prefix": prefix, "slug": slug}
    if label is not None:
        ref, params["label"] = "label", label
    elif raw_version is not None:
        ref, params["version"] = "version", int(raw_version)
    else:
        ref = "latest"
    revalidating = bool(request.if_none_match)
    with _reader() as reader:
        rows = reader.rows(ref, not revalidating, params)
        if not rows:
            raise HttpError(401, "The API key is not valid.")
        (key_id, key_role, secret_hash, revoked_at, last_used_at, key_project, creator_role,
         number, sha256) = rows[0][:9]
        # The effective role is at least viewer, all a fetch needs; check_key raises the 401s.
        check_key(plaintext, secret_hash, revoked_at, key_role, creator_role)
        if (project_slug is not None and project_slug != key_project) or number is None:
            return None  # 403 / 404s, worded by the general path
        now = touch_due(last_used_at)
        if now is not None:
            reader.touch(key_id, now)
        if revalidating and request.if_none_match.contains(sha256):
            return fetch_response(key_project, slug, FetchedVersion(number, sha256),
                                  pinned=raw_version is not None, not_modified=True)
        if revalidating:
            rows = reader.rows(ref, True, params)
            if not rows or rows[0][7] is None:
                return None  # changed in between: the general path answers afresh
    first = rows[0]
    found = FetchedVersion(
        version=first[7], sha256=first[8], data=first[9], message=first[10], author=first[11],
        created_at=first[12], git=first[13], source=first[14], full=True,
        labels=sorted(row[15] for row in rows if row[15] is not None),
    )
    return fetch_response(key_project, slug, found, pinned=raw_version is not None)


def fetch_response(project_slug: str, slug: str, found: FetchedVersion, pinned: bool,
                   not_modified: bool = False) -> Response:
    """The fetch's answer: the version as JSON (or an empty 304) with ETag and cache headers."""
    headers = [("ETag", f'"{found.sha256}"'),
               ("Cache-Control", PINNED_CACHE if pinned else MOVING_CACHE), ("Vary", VARY)]
    if not_modified:
        return Response(status=304, headers=headers)
    # What jsonify builds (the app's JSON provider, compact, newline-terminated), with the
    # headers given at once rather than extended afterwards.
    body = current_app.json.dumps(version_dict(project_slug, slug, found, found.labels),
                                  separators=(",", ":"))
    return Response(f"{body}\n", headers=headers, mimetype="application/json")
