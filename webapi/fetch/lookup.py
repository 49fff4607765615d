"""The hot path: GET one prompt version with an API key, in one statement on one connection.

An app fetching its prompt by slug is the request the server answers most (SPEC §8). lookup()
reads the key and the version asked for in one statement (webapi.fetch.sql) and checks the key by
the general path's own rules (auth.check_key). Nothing about the key is cached between
requests, so a revoked key or a removed creator fails on the very next request. Only success
(200, or 304 for a matching If-None-Match) is answered here; for anything else — another
project's key, an unknown prompt, version or label, a malformed query argument — lookup()
returns None and the caller takes the general path (auth.project_role, versions.fetch_version),
which words every such error in one place.

Two callers: fetch() inside Flask's view (every request Flask routes here), and
webapi.fetch.middleware, which answers the plain cases before Flask builds a request at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flask import Response, current_app, request
from flask.json.provider import JSONProvider
from sqlalchemy.engine import Engine

from promptsync.format.prompt import slug_problem
from webapi.auth.keys import MALFORMED_KEY, check_key, split_key, touch_due
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.fetch.sql import reader
from webapi.services.versions import FetchedVersion, version_dict

PINNED_CACHE = "private, max-age=31536000, immutable"
MOVING_CACHE = "private, no-cache"
VARY = "X-API-Key, Authorization, Cookie"
MAX_VERSION = 2**31 - 1


class Found(NamedTuple):
    """A fetch lookup() can answer: the version, and whether the client's copy is current."""

    project_slug: str
    version: FetchedVersion
    not_modified: bool


def lookup(engine: Engine, plaintext: str, project_slug: str | None, slug: str,
           number: int | None, label: str | None, etag_matches: Callable[[str], bool] | None,
           touch_seconds: float) -> Found | None:
    """The version a key fetches, or None for the general path; raises the key's 401s.

    project_slug None is the /prompts/{slug} shorthand: the key's own project. etag_matches is
    None without If-None-Match. The arguments are already valid (see fetch())."""
    prefix = split_key(plaintext)
    if prefix is None:
        raise HttpError(401, MALFORMED_KEY)
    params: dict[str, Any] = {"prefix": prefix, "slug": slug}
    if label is not None:
        ref, params["label"] = "label", label
    elif number is not None:
        ref, params["version"] = "version", number
    else:
        ref = "latest"
    with reader(engine) as db_reader:
        rows = db_reader.rows(ref, etag_matches is None, params)
        if not rows:
            raise HttpError(401, "The API key is not valid.")
        (key_id, key_role, secret_hash, revoked_at, last_used_at, key_project, creator_role,
         version, sha256) = rows[0][:9]
        # The effective role is at least viewer, all a fetch needs; check_key raises the 401s.
        check_key(plaintext, secret_hash, revoked_at, key_role, creator_role)
        if (project_slug is not None and project_slug != key_project) or version is None:
            return None  # 403 / 404s, worded by the general path
        now = touch_due(last_used_at, touch_seconds)
        if now is not None:
            db_reader.touch(key_id, now)
        if etag_matches is not None and etag_matches(sha256):
            return Found(key_project, FetchedVersion(version, sha256), not_modified=True)
        if etag_matches is not None:
            rows = db_reader.rows(ref, True, params)
            if not rows or rows[0][7] is None:
                return None  # changed in between: the general path answers afresh
    first = rows[0]
    found = FetchedVersion(
        version=first[7], sha256=first[8], data=first[9], message=first[10], author=first[11],
        created_at=first[12], git=first[13], source=first[14], full=True,
        labels=sorted(row[15] for row in rows if row[15] is not None),
    )
    return Found(key_project, found, not_modified=False)


def fetch(plaintext: str, project_slug: str | None, slug: str) -> Response | None:
    """Answer GET {project}/prompts/{slug} for an API key inside Flask, or None for the
    general path."""
    args = request.args
    raw_version, label = args.get("version") or None, args.get("label")
    if raw_version is not None and (
        label is not None or not (raw_version.isascii() and raw_version.isdigit())
        or not 1 <= int(raw_version) <= MAX_VERSION
    ):
        return None  # a 400, worded by the general path after it has checked the key
    if slug_problem(slug) is not None:
        return None
    number = int(raw_version) if raw_version is not None else None
    tags = request.if_none_match
    found = lookup(db.engine, plaintext, project_slug, slug, number, label,
                   tags.contains if tags else None, current_app.config["KEY_TOUCH_SECONDS"])
    if found is None:
        return None
    return fetch_response(found.project_slug, slug, found.version, pinned=number is not None,
                          not_modified=found.not_modified)


def fetch_headers(sha256: str, pinned: bool) -> list[tuple[str, str]]:
    """ETag and cache headers of every fetch answer, 200 or 304."""
    return [("ETag", f'"{sha256}"'), ("Cache-Control", PINNED_CACHE if pinned else MOVING_CACHE),
            ("Vary", VARY)]


def fetch_body(json: JSONProvider, project_slug: str, slug: str, found: FetchedVersion) -> str:
    """The version as JSON, as jsonify writes it (the app's JSON provider, newline-terminated)."""
    body = json.dumps(version_dict(project_slug, slug, found, found.labels),
                      separators=(",", ":"))
    return f"{body}\n"


def fetch_response(project_slug: str, slug: str, found: FetchedVersion, pinned: bool,
                   not_modified: bool = False) -> Response:
    """The fetch's answer: the version as JSON (or an empty 304) with ETag and cache headers."""
    headers = fetch_headers(found.sha256, pinned)
    if not_modified:
        return Response(status=304, headers=headers)
    return Response(fetch_body(current_app.json, project_slug, slug, found), headers=headers,
                    mimetype="application/json")
