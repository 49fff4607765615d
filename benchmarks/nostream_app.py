"""The real app as a server without the event stream (404), for the watch's polling fallback.

`promptsync watch` listens on `GET /projects/{p}/events/stream`; a 404 there ends its stream
reader for good (promptsync/watch/feed.py) and it polls instead, as against a server built
before streams. Everything else is the real app, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from webapi import create_app

_app = create_app()
STREAM_SUFFIX = "/events/stream"
BODY = b'{"error": {"code": "not_found", "message": "no event stream on this server"}}'


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer 404 to the event stream, pass everything else to the real app."""
    if environ.get("PATH_INFO", "").endswith(STREAM_SUFFIX):
        start_response("404 NOT FOUND", [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(BODY)))])
        return [BODY]
    return _app(environ, start_response)
