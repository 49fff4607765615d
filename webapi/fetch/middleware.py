"""The fetch apps make most, answered in front of Flask: GET a prompt with an API key.

For the plain form of that request — GET, an API key, no cookie, no body, an ASCII path, no
query or one `version=N` / `label=L`, no If-None-Match or one strong ETag — FetchFastPath calls
fastfetch.lookup() straight from the WSGI environ: no request context, URL map, hooks or
Response object, which cost the worker more CPU than the database round trip. It answers only
200 and 304, with the very headers the Flask view sends (tests/test_hotpath.py compares the
two); every other request, and every lookup that is not a plain success (a bad key, another
project, an unknown prompt, a database error), goes to the Flask app unchanged, which answers it
with its usual words. So nothing the general path decides is decided twice.

What this bypasses, and why each is safe for the requests it takes: the NUL check (an ASCII path
and a query of fixed shape hold none), the cookie session and flask-login's remember cookie (no
Cookie header), CORS (the fast path is not installed when CORS_ORIGINS is set), and the
teardown of a Session this request never opens. A new before/after_request hook must be added
to that reasoning: tests/test_hotpath.py lists the hooks this module knows about.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from promptsync.format.prompt import slug_problem
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.fetch.lookup import MAX_VERSION, fetch_body, fetch_headers, lookup

log = logging.getLogger(__name__)

PREFIX = "/api/v1/"
_PATH = re.compile(r"(?:projects/([^/]+)/)?prompts/(.+)")
_QUERY = re.compile(r"(?:version=([0-9]{1,10})|label=([A-Za-z0-9._-]{1,100}))?")
_ETAG = re.compile(r'"([0-9a-f]{64})"')

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FetchFastPath:
    """WSGI middleware: plain key fetches answered by fastfetch.lookup(), the rest by Flask."""

    def __init__(self, app: Flask, general: WSGIApp) -> None:
        self.app = app
        self.general = general
        self.security_headers: list[tuple[str, str]] = []
        self._engine: Engine | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        answer = self._answer(environ)
        if answer is None:
            return self.general(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        request = _plain_fetch(environ)
        if request is None:
            return None
        key, project_slug, slug, number, label, etag = request
        try:
            found = lookup(self._db_engine(), key, project_slug, slug, number, label,
                           etag.__eq__ if etag is not None else None,
                           self.app.config["KEY_TOUCH_SECONDS"])
        except (HttpError, DBAPIError):
            return None  # the general path answers (and words) it
        except Exception:  # a fault here must not cost the request: Flask answers it anyway
            log.exception("fast fetch failed; answered by the general path")
            return None
        if found is None:
            return None
        headers = fetch_headers(found.version.sha256, pinned=number is not None)
        if found.not_modified:
            return "304 NOT MODIFIED", headers + self.security_headers, b""
        body = fetch_body(self.app.json, found.project_slug, slug, found.version).encode()
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        return "200 OK", headers + self.security_headers, body

    def _db_engine(self) -> Engine:
        if self._engine is None:
            with self.app.app_context():
                self._engine = db.engine
        return self._engine


def _plain_fetch(environ: dict[str, Any]
                 ) -> tuple[str, str | None, str, int | None, str | None, str | None] | None:
    """(key, project, slug, version, label, etag) of a plain key fetch, else None."""
    path: str = environ.get("PATH_INFO", "")
    if (environ["REQUEST_METHOD"] != "GET" or not path.startswith(PREFIX)
            or "HTTP_COOKIE" in environ or "HTTP_TRANSFER_ENCODING" in environ
            or environ.get("CONTENT_LENGTH", "") not in ("", "0")
            or not path.isascii() or "\x00" in path):
        return None
    matched = _PATH.fullmatch(path, len(PREFIX))
    query = _QUERY.fullmatch(environ.get("QUERY_STRING", ""))
    if matched is None or query is None:
        return None
    project_slug, slug = matched.groups()
    raw_version, label = query.groups()
    number = int(raw_version) if raw_version is not None else None
    if (number is not None and not 1 <= number <= MAX_VERSION) or slug_problem(slug) is not None:
        return None
    etag = None
    if "HTTP_IF_NONE_MATCH" in environ:
        tag = _ETAG.fullmatch(environ["HTTP_IF_NONE_MATCH"].strip())
        if tag is None:
            return None  # weak, several or '*': werkzeug's parser decides those
        etag = tag.group(1)
    key = _presented_key(environ)
    if not key:
        return None
    return key, project_slug, slug, number, label, etag


def _presented_key(environ: dict[str, Any]) -> str | None:
    """auth.presented_key, read from the environ."""
    key = environ.get("HTTP_X_API_KEY")
    if key is not None:
        return key.strip()
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def install(app: Flask, security_headers: list[tuple[str, str]]) -> None:
    """Put the fast path in front of app.wsgi_app, unless CORS needs Flask on every request."""
    if app.config.get("CORS_ORIGINS"):
        return
    fast = FetchFastPath(app, app.wsgi_app)
    fast.security_headers = security_headers
    app.wsgi_app = fast  # type: ignore[method-assign]
