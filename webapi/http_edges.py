"""HTTP as the RFCs say where werkzeug's defaults do not: HEAD is GET without the body, OPTIONS
answers JSON with the methods of its path, nothing under /api/ redirects, and a body the server
ends itself (chunked) over MAX_CONTENT_LENGTH is a 413 like one that declares its length."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any, NoReturn, cast
from urllib.parse import urlsplit

import flask
from flask import Flask, Response, jsonify
from flask.globals import request_ctx
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import RequestRedirect
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

from webapi.errors import HttpError

API = "/api/"


def allow(methods: Iterable[str]) -> list[str]:
    """The Allow list of a resource that answers `methods`: HEAD with GET, OPTIONS always."""
    allowed = set(methods) | {"OPTIONS"}
    if "GET" in allowed:
        allowed.add("HEAD")
    return sorted(allowed)


def options_response(methods: Iterable[str]) -> Response:
    """The answer to OPTIONS: 200, the Allow header, and the same list as JSON."""
    allowed = allow(methods)
    response = jsonify(allow=allowed)
    response.headers["Allow"] = ", ".join(allowed)
    return response


class CappedBody(LimitedStream):
    """A body the server ends (chunked), read up to a limit: a byte past it is a 413."""

    # werkzeug's own LimitedStream(is_max=True) stops quietly at the limit when the body is read
    # whole, so a body over it reached the view cut short: a 400 for broken JSON, or JSON that
    # still parsed (trailing spaces) and was stored.
    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self.source = stream

    def on_exhausted(self) -> None:
        """At the limit: the body ended exactly there, or it is too large."""
        if self.source.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        """The whole body, or a 413 if there is more than the limit."""
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class Request(flask.Request):
    """Flask's request, with HEAD dispatched as GET and chunked bodies capped."""

    def __init__(self, environ: dict[str, Any], populate_request: bool = True,
                 shallow: bool = False) -> None:
        super().__init__(environ, populate_request, shallow)
        # RFC 9110 §9.3.2: HEAD is GET without the content. Every view answers it as GET, so the
        # two cannot drift; werkzeug's response drops the body for a HEAD environ and keeps
        # its Content-Length. Routing still reads HEAD from the environ (every GET rule has it).
        if self.method == "HEAD":
            self.method = "GET"

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, capped at max_content_length when it declares no length."""
        limit = self.max_content_length
        if (limit is not None and self.content_length is None
                and "wsgi.input_terminated" in self.environ):
            return cast(IO[bytes], CappedBody(self.environ["wsgi.input"], limit))
        return super().stream


class App(Flask):
    """Flask, answering OPTIONS in JSON and never redirecting under /api/."""

    request_class = Request

    def make_default_options_response(self) -> Response:
        """OPTIONS of a route: its methods, as JSON and in Allow."""
        adapter = request_ctx.url_adapter
        assert adapter is not None  # a route was matched
        return options_response(adapter.allowed_methods())

    def raise_routing_exception(self, request: flask.Request) -> NoReturn:
        """Routing's redirects (a // merged, a trailing slash added) are 404s under /api/."""
        # An API has one spelling per resource; a redirect would be an HTML page built from the
        # Host header, and would ask clients to send a write (and its key) a second time.
        redirect = request.routing_exception
        if isinstance(redirect, RequestRedirect) and request.path.startswith(API):
            spelled = urlsplit(redirect.new_url)
            path = spelled.path + (f"?{spelled.query}" if spelled.query else "")
            raise HttpError(404, f"No such resource; did you mean {path}?")
        super().raise_routing_exception(request)
