"""Finding the version a fetch asks for: by API key in one statement, or for an authorized caller.

lookup() reads the key and the version in one key-scoped statement and checks the key by the
general path's own rules (webapi.auth.keys.check_key). Nothing about the key is cached between
requests, so a revoked key or a removed creator fails on the very next request. It answers only
success (200, or 304 for a matching If-None-Match); for anything else — another project's key,
an unknown prompt, version or label — it returns None and the general path (project_role, then
fetch_version) words the error.

lookup_once() is how both callers, the middleware in front of Flask and the Flask view, ask: a
miss is kept in the WSGI environ, so a request the middleware passed on, or the /prompts
shorthand handing over to the project route, is never looked up a second time.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from webapi.auth.keys import INVALID_KEY, check_key, key_prefix, touch_due
from webapi.auth.principal import ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.fetch.connections import ConnectFailed
from webapi.fetch.includes import Read, with_includes
from webapi.fetch.readers import Reader, reader
from webapi.fetch.request import FetchRequest, etag_matches, parse_fetch
from webapi.fetch.statements import (
    KEY_WIDTH,
    STATEMENTS,
    Scope,
    read_key,
    read_version,
    reference,
)
from webapi.services.versions import FetchedVersion, check_slug, not_found

MISS = "promptsync.fetch.miss"  # environ key: this request was looked up, without an answer


@dataclass(slots=True)  # not frozen: that costs ~1 µs per instance, on every fetch
class Found:
    """A fetch lookup() answers: the version, and whether the client's copy is current."""

    request: FetchRequest
    project_slug: str
    version: FetchedVersion
    not_modified: bool


@dataclass(frozen=True, slots=True)
class Miss:
    """A request lookup_once() found no answer for, and the 401 or failed connect, if any."""

    refused: HttpError | ConnectFailed | None = None


def lookup(engine: Engine, request: FetchRequest, touch_seconds: float) -> Found | None:
    """The version a key fetches, or None for the general path; raises the key's 401s."""
    ref, params = reference(request.version, request.label)
    params["prefix"] = key_prefix(request.key)
    params["slug"] = request.slug
    revalidating = request.if_none_match is not None
    with reader(engine) as db_reader:
        rows = db_reader.rows(ref, not revalidating, params)
        if not rows:
            raise HttpError(401, INVALID_KEY)
        key = read_key(rows[0])
        # The effective role is at least viewer, all a fetch needs; check_key raises the 401s.
        check_key(request.key, key.secret_hash, key.revoked_at, key.role, key.creator_role)
        found = read_version(rows, not revalidating, KEY_WIDTH)
        if found is None or request.project_slug not in (None, key.project_slug):
            return None  # 404s / 403, worded by the general path
        now = touch_due(key.last_used_at, touch_seconds)
        if now is not None:
            db_reader.touch(key.id, now)
        if found.partials is not None:
            found = with_includes(found, request.slug, request.label,
                                  _key_read(db_reader, params["prefix"]))
        if request.if_none_match is not None:
            if etag_matches(request.if_none_match, found.tag):
                return Found(request, key.project_slug, found, not_modified=True)
            fuller = read_version(db_reader.rows(ref, True, params), True, KEY_WIDTH)
            if fuller is None or fuller.version != found.version:
                return None  # changed in between: the general path answers afresh
            found = fuller._replace(includes=found.includes, etag=found.etag)
    return Found(request, key.project_slug, found, not_modified=False)


def _key_read(db_reader: Reader, prefix: str) -> Read:
    """How the fast path reads an included version: the key-scoped hash-only statement."""
    def read(slug: str, version: int | None, label: str | None) -> FetchedVersion | None:
        ref, params = reference(version, label)
        params["prefix"], params["slug"] = prefix, slug
        return read_version(db_reader.rows(ref, False, params), False, KEY_WIDTH)
    return read


def _project_read(project_id: int) -> Read:
    """How the general path reads an included version: the project-scoped hash-only one."""
    def read(slug: str, version: int | None, label: str | None) -> FetchedVersion | None:
        ref, params = reference(version, label)
        params["project_id"], params["slug"] = project_id, slug
        rows = db.session.execute(STATEMENTS[Scope.PROJECT, ref, False], params).all()
        return read_version(rows, False)
    return read


def lookup_once(environ: MutableMapping[str, Any], engine: Engine, touch_seconds: float
                ) -> Found | None:
    """lookup() of this request's key fetch, once per request; None for the general path."""
    # A miss is kept in the environ and replayed to a later call (a bad key's 401 is raised
    # again; the 403 and 404s are the general path's to word). So is a failed connect: the
    # general path would wait the connect timeout again to reach the same 503 (errors.py).
    # Any other database error is not a miss: it propagates, and a later call (Flask's view,
    # after the middleware) tries afresh, on the Session's pool.
    miss: Miss | None = environ.get(MISS)
    if miss is not None:
        if miss.refused is not None:
            raise miss.refused
        return None
    request = parse_fetch(environ)
    if request is None:
        environ[MISS] = Miss()
        return None
    try:
        found = lookup(engine, request, touch_seconds)
    except (HttpError, ConnectFailed) as refused:
        environ[MISS] = Miss(refused)
        raise
    if found is None:
        environ[MISS] = Miss()
    return found


def fetch_version(project: ProjectRef, slug: str, version: int | None = None,
                  label: str | None = None, full: bool = True) -> FetchedVersion:
    """The general path's fetch for a caller authorized in the project, or the 404 for it."""
    # One project-scoped statement, labels included; full=False reads only the number and hash,
    # enough to answer If-None-Match with a 304.
    check_slug(slug)
    ref, params = reference(version, label)
    params["project_id"] = project.id
    params["slug"] = slug
    rows = db.session.execute(STATEMENTS[Scope.PROJECT, ref, full], params).all()
    found = read_version(rows, full)
    if found is None:
        not_found(project, slug, version, label)
    if found.partials is not None:
        found = with_includes(found, slug, label, _project_read(project.id))
    return found
