"""What every model module shares: the roles and how times are stored and shown."""

from __future__ import annotations

import datetime as dt

ROLES = ("viewer", "editor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


def utcnow() -> dt.datetime:
    """Naive UTC now: stored the same way on SQLite and Postgres."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"
