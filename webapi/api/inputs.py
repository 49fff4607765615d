"""Reading JSON bodies, with a 400 that says what is wrong, and refusing NUL in API requests."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request

from webapi.errors import HttpError
from webapi.paging import MAX_INT

T = TypeVar("T")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 (415 when not sent as JSON)."""
    if not request.data:
        raise HttpError(400, "The request needs a JSON object body.")
    if not request.is_json:
        # Browsers send text/plain and form bodies cross-site without a preflight; insisting
        # on application/json closes login CSRF and any other cookie-borne cross-site write.
        raise HttpError(415, "Send the body as JSON with 'Content-Type: application/json'.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object.")
    return body


def field(body: dict[str, Any], name: str, kind: type[T], required: bool = True) -> T | None:
    """body[name] checked against kind (bool is never an int here), or a 400."""
    value = body.get(name)
    if value is None:
        if required:
            raise HttpError(400, f"'{name}' is required.")
        return None
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise HttpError(400, f"'{name}' must be {_describe(kind)}.")
    if isinstance(value, int) and not (-MAX_INT - 1 <= value <= MAX_INT):
        # Larger numbers overflow the database's INTEGER (a 500 on SQLite).
        raise HttpError(400, f"'{name}' is out of range.")
    return value


def _describe(kind: type) -> str:
    return {str: "a string", int: "an integer", dict: "an object", list: "an array"}.get(
        kind, kind.__name__
    )


NUL_DETAIL = "The request contains a NUL character, which no field accepts."


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        # A prompt's source is checked by the prompt parser, which answers 422 with the line.
        return any(_has_nul(k) or (k != "source" and _has_nul(v)) for k, v in value.items())
    return False


def reject_nul() -> None:
    """400 for a NUL anywhere in an API request: Postgres refuses NUL in text (a 500 there)
    while SQLite stores it, so without this check one request had two outcomes."""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    # The raw query string first: an argument (name or value) can only hold a NUL sent as %00
    # (or raw), so most requests are cleared without parsing their arguments.
    if "\x00" in request.path or (
        ("%00" in query or "\x00" in query) and _has_nul(list(request.args.items(multi=True)))
    ):
        raise HttpError(400, NUL_DETAIL)
    # A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3):
    # nothing to read, e.g. every fetch. JSON can only carry a NUL escaped, so most bodies are
    # cleared without parsing.
    if not request.content_length and "HTTP_TRANSFER_ENCODING" not in environ:
        return
    if b"\\u0000" in request.get_data() and _has_nul(request.get_json(silent=True, force=True)):
        raise HttpError(400, NUL_DETAIL)
