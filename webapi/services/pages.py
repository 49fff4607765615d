"""One page of a listing, newest first by an id, older than a cursor id (keyset paging)."""

from __future__ import annotations

from typing import Any

from webapi.extensions import db


def newest_page(query: Any, key: Any, limit: int, before: int | None,
                scalars: bool = True) -> tuple[list[Any], bool]:
    """The first `limit` rows of `query` by `key` descending, below `before`; (rows, more)."""
    if before is not None:
        query = query.where(key < before)
    ordered = query.order_by(key.desc()).limit(limit + 1)  # one more says whether more follow
    rows = list(db.session.scalars(ordered) if scalars else db.session.execute(ordered).all())
    return rows[:limit], len(rows) > limit
