"""The hot path: GET one prompt version with an API key, in one statement on one connection.

An app fetching its prompt by slug is the request the server answers most (SPEC §8). Here the
key row (hash, revocation, role, project, the creator's current membership) and the version
asked for (latest, ?version= or ?label=, with the labels on it) come back from ONE prebuilt Core
statement, run on a pooled connection (autocommit on Postgres) without the ORM Session: one
database round trip, no BEGIN, no ROLLBACK, no identity map; on Postgres a prepared statement,
so not even planning (see _rows).

The key is checked from that row by the general path's own rules (auth.check_key), and nothing
about it is cached between requests, so a revoked key or a removed creator fails on the very
next request. Only success (200, or 304 for a matching If-None-Match) is answered here; for
anything else — another project's key, an unknown prompt, version or label, a malformed query
argument — fetch() returns None and the caller takes the general path (auth.project_role,
versions.fetch_version), which words every such error in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine import Connection

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


def _rows(conn: Connection, ref: str, full: bool, params: dict[str, Any]) -> list[Any]:
    """The fetch statement's rows: compiled-cache Core on SQLite, a prepared one on Postgres."""
    if conn.dialect.name != "postgresql":
        return list(conn.execute(_STATEMENTS[ref, full], params))
    name, prepare, execute, order = _PREPARED[ref, full]
    prepared = conn.connection.info.setdefault("promptsync.prepared", set())  # per connection
    if name not in prepared:
        conn.exec_driver_sql(prepare)
        prepared.add(name)
    # psycopg2 returns json and timestamp columns decoded, as the typed Core statement would.
    return list(conn.exec_driver_sql(execute, tuple(params[key] for key in order)))


@contextmanager
def _read_connection() -> Iterator[Connection]:
    """A pooled connection (no Session) for one fetch; on Postgres in autocommit meanwhile, so
    that each statement is one round trip, with no BEGIN before and no ROLLBACK on return.

    The driver's flag is flipped directly: SQLAlchemy's isolation_level="AUTOCOMMIT" goes through
    psycopg2's set_isolation_level, which sends a SET to the server on checkout and on return,
    while flipping `autocommit` with the isolation level left alone sends nothing. SQLite's
    driver opens no transaction for a SELECT, so its connection is used as it is."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            yield conn
            return
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.autocommit = True
        try:
            yield conn
        finally:
            if not conn.invalidated:  # a lost connection is discarded, not returned
                driver.autocommit = False


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
    with _read_connection() as conn:
        rows = _rows(conn, ref, not revalidating, params)
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
            conn.execute(_TOUCH, {"key_id": key_id, "now": now})
            conn.commit()
        if revalidating and request.if_none_match.contains(sha256):
            return fetch_response(key_project, slug, FetchedVersion(number, sha256),
                                  pinned=raw_version is not None, not_modified=True)
        if revalidating:
            rows = _rows(conn, ref, True, params)
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
    response = jsonify(version_dict(project_slug, slug, found, found.labels))
    response.headers.extend(headers)
    return response
