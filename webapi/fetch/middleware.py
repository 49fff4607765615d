"""The fetch apps make most, answered in front of Flask: GET (or HEAD) a prompt with an API key.

For a plain key fetch (webapi.fetch.request.parse_fetch) that carries no cookie and no body,
FetchFastPath looks the version up straight from the WSGI environ (webapi.fetch.lookup): no
request context, URL map, hooks or Response object, which cost the worker more CPU than the
database round trip. It answers only 200 and 304, with the very headers and body the Flask view
sends (tests/server/test_fetch_middleware.py compares the two); every other request, and every
lookup that is not a plain success (a bad key, another project, an unknown prompt, a database
error), goes to the Flask app unchanged, which answers it with its usual words. A miss is kept
in the environ, so the view does not look the same request up again; so is a failed connect, so a
fetch in an outage waits the connect timeout once before its 503.

What this bypasses, and why each is safe for the requests it takes: the NUL check (an ASCII path
and a query of fixed shape hold none, and there is no body), the cookie session and flask-login's
remember cookie (no Cookie header), CORS (not installed when CORS_ORIGINS is set), and the
teardown of a Session this request never opens. A new before/after_request hook must be added
to that reasoning: tests/server/test_fetch_middleware.py lists the hooks this module knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from webapi.errors import HttpError
from webapi.extensions import db
from webapi.fetch.answer import fetch_body, fetch_headers
from webapi.fetch.lookup import lookup_once

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FetchFastPath:
    """WSGI middleware: plain key fetches answered by lookup_once(), the rest by Flask."""

    def __init__(self, app: Flask, general: WSGIApp,
                 security_headers: list[tuple[str, str]]) -> None:
        self.app = app
        self.general = general
        self.security_headers = security_headers
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
        """Status, headers and body of a plain fetch's success, or None to leave it to Flask."""
        if _needs_flask(environ):
            return None
        try:
            found = lookup_once(environ, self._db_engine(), self.app.config["KEY_TOUCH_SECONDS"])
        except (HttpError, DBAPIError):
            return None  # the general path answers (and words) it
        except Exception:  # a fault here must not cost the request: Flask answers it anyway
            log.exception("fast fetch failed; answered by the general path")
            return None
        if found is None:
            return None
        headers = fetch_headers(found.version.tag,
                                found.request.pinned and not found.version.includes)
        if found.not_modified:
            return "304 NOT MODIFIED", headers + self.security_headers, b""
        body = fetch_body(self.app.json, found.project_slug, found.request.slug,
                          found.version).encode()
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if environ["REQUEST_METHOD"] == "HEAD":  # GET's headers, Content-Length included
            body = b""
        return "200 OK", headers + self.security_headers, body

    def _db_engine(self) -> Engine:
        """The app's engine, read once (Flask-SQLAlchemy hands it out in an app context)."""
        if self._engine is None:
            with self.app.app_context():
                self._engine = db.engine
        return self._engine


def _needs_flask(environ: dict[str, Any]) -> bool:
    """A cookie or a body: what only Flask's hooks handle, however plain the fetch is."""
    # The session and the remember cookie read the Cookie header; the NUL check reads the body.
    return ("HTTP_COOKIE" in environ or "HTTP_TRANSFER_ENCODING" in environ
            or environ.get("CONTENT_LENGTH", "") not in ("", "0"))


def install(app: Flask, security_headers: list[tuple[str, str]]) -> None:
    """Put the fast path in front of app.wsgi_app, unless CORS needs Flask on every request."""
    if app.config.get("CORS_ORIGINS"):
        return
    app.wsgi_app = FetchFastPath(app, app.wsgi_app, security_headers)  # type: ignore[method-assign]
