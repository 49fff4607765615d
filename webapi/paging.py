"""Query arguments read the same way by the API and the admin: bounded integers, page limits and
opaque cursors, each with a 400 that says what is wrong."""

from __future__ import annotations

import base64
import binascii

from flask import request

from webapi.errors import HttpError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_INT = 2**31 - 1  # the database's INTEGER: larger numbers overflow it (a 500 on SQLite)


def int_arg(name: str, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    """An integer query argument within bounds, or None when absent; 400 when malformed."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    # isdigit() alone accepts "²" and other digits int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not (minimum <= int(raw) <= maximum):
        raise HttpError(400, f"'{name}' must be an integer from {minimum} to {maximum}.")
    return int(raw)


def limit_arg() -> int:
    """?limit=, 1..1000, default 100."""
    limit = int_arg("limit", 1, MAX_LIMIT)
    return DEFAULT_LIMIT if limit is None else limit


def encode_cursor(value: str | int) -> str:
    """An opaque cursor for the next page."""
    return base64.urlsafe_b64encode(str(value).encode("utf-8")).decode("ascii").rstrip("=")


def cursor_arg() -> str | None:
    """The decoded ?cursor=, or None; 400 when it was not made by us."""
    raw = request.args.get("cursor")
    if not raw:
        return None
    try:
        # validate=True: the lenient decoder drops stray characters, so "!!!" would read as "".
        value = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
        text = value.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HttpError(400, "'cursor' is not a cursor this API returned.") from None
    if "\x00" in text:  # Postgres refuses NUL in a string parameter (a 500, not a 400)
        raise HttpError(400, "'cursor' is not a cursor this API returned.")
    return text


def int_cursor_arg() -> int | None:
    """A decoded cursor that must be a number."""
    value = cursor_arg()
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_INT:
        raise HttpError(400, "'cursor' is not a cursor this API returned.")
    return int(value)
