"""The checks an export document's fields go through before an import writes anything."""

from __future__ import annotations

import datetime as dt
from typing import Any

from webapi.errors import HttpError


def bad(where: str, what: str) -> HttpError:
    """The 400 for a document that is not a well-formed export, naming where."""
    return HttpError(400, f"Not a promptsync export: {where}: {what}.")


def time(value: object, where: str, name: str = "created_at", optional: bool = False
         ) -> dt.datetime | None:
    """An ISO 8601 time as a naive UTC datetime (the columns' form)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise bad(where, f"{name} must be an ISO 8601 time")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise bad(where, f"{name} must be an ISO 8601 time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def text(value: object, where: str, name: str, limit: int, optional: bool = False) -> Any:
    """A string of at most limit characters (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise bad(where, f"{name} must be a string of at most {limit} characters")
    return value


def number(value: object, where: str, name: str, low: int, high: int,
           optional: bool = False) -> int | None:
    """An integer from low to high (or None when optional)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(where, f"{name} must be an integer from {low} to {high}"
                  + (" or null" if optional else ""))
    return value


def listed(value: object, where: str) -> list[Any]:
    """An optional list (absent: empty), of objects."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad(where, "must be a list of objects")
    return value


def obj(value: object, where: str, name: str) -> Any:
    """An object or null."""
    if value is not None and not isinstance(value, dict):
        raise bad(where, f"{name} must be an object or null")
    return value
