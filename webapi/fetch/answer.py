"""The answer to a fetch, 200 with the version as JSON or an empty 304, the same bytes whoever
sends it: the middleware writes it as WSGI parts, Flask's views as a Response."""

from __future__ import annotations

from flask import Response, current_app, request
from flask.json.provider import JSONProvider

from webapi.extensions import db
from webapi.fetch.lookup import lookup_once
from webapi.services.versions import FetchedVersion, version_dict

PINNED_CACHE = "private, max-age=31536000, immutable"  # ?version=N never changes
MOVING_CACHE = "private, no-cache"  # the latest or a label: revalidate every time
VARY = "X-API-Key, Authorization, Cookie"


def fetch_headers(tag: str, pinned: bool) -> list[tuple[str, str]]:
    """ETag and cache headers of every fetch answer, 200 or 304."""
    return [("ETag", f'"{tag}"'), ("Cache-Control", PINNED_CACHE if pinned else MOVING_CACHE),
            ("Vary", VARY)]


def fetch_body(json: JSONProvider, project_slug: str, slug: str, found: FetchedVersion) -> str:
    """The version as JSON, as jsonify writes it (the app's JSON provider, newline-terminated)."""
    shown = version_dict(project_slug, slug, found, found.labels)
    shown["includes"] = found.includes  # resolved at fetch time (SPEC §13); [] for none
    body = json.dumps(shown, separators=(",", ":"))
    return f"{body}\n"


def fetch_response(project_slug: str, slug: str, found: FetchedVersion, pinned: bool,
                   not_modified: bool = False) -> Response:
    """The fetch's answer as a Flask Response."""
    # A version that includes partials is not immutable: what it includes may move.
    headers = fetch_headers(found.tag, pinned and not found.includes)
    if not_modified:
        return Response(status=304, headers=headers)
    return Response(fetch_body(current_app.json, project_slug, slug, found), headers=headers,
                    mimetype="application/json")


def key_fetch_response() -> Response | None:
    """Inside Flask's view: this request's key fetch answered, or None for the general path."""
    # None for anything but a plain success (another project, nothing found); a bad key's 401
    # is raised. lookup_once replays the middleware's miss rather than look it up again.
    found = lookup_once(request.environ, db.engine, current_app.config["KEY_TOUCH_SECONDS"])
    if found is None:
        return None
    return fetch_response(found.project_slug, found.request.slug, found.version,
                          found.request.pinned, not_modified=found.not_modified)
