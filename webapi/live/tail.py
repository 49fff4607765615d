"""The reads behind live delivery: events after an id, and where Postgres' transactions stand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from webapi.models import Event

PAGE = 500  # events read at once: a backlog is sent in pages, never held whole


def newest_id(engine: Engine) -> int:
    """The id of the newest event of any project (0 when there is none)."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one())


def events_after(conn: Connection, after: int, *, project_id: int | None = None,
                 upto: int | None = None, limit: int = PAGE) -> list[tuple[int, dict[str, Any]]]:
    """(project id, the event JSON of GET /events) for ids after `after`, oldest first."""
    query = select(Event).where(Event.id > after)
    if project_id is not None:
        query = query.where(Event.project_id == project_id)
    if upto is not None:
        query = query.where(Event.id <= upto)
    with Session(bind=conn) as session:
        rows = session.scalars(query.order_by(Event.id).limit(limit))
        return [(row.project_id, row.to_dict()) for row in rows]


def read_page(engine: Engine, project_id: int, after: int, upto: int,
              limit: int = PAGE) -> list[dict[str, Any]]:
    """One project's events in (after, upto], oldest first, at most `limit`."""
    with engine.connect() as conn:
        return [event for _, event in events_after(conn, after, project_id=project_id,
                                                   upto=upto, limit=limit)]


def read_tail(engine: Engine, after: int, postgres: bool
              ) -> tuple[list[tuple[int, dict[str, Any]]], int, int]:
    """Every project's events after `after` (a page), and on Postgres (xmin, xmax) of the
    snapshot that read them: the oldest transaction still running, the next id to be handed out.
    One snapshot for both (REPEATABLE READ), so an event missing from the rows was not committed
    when xmin was read."""
    if not postgres:
        with engine.connect() as conn:
            return events_after(conn, after), 0, 0
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        row = conn.execute(text(
            "SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text "
            "FROM pg_current_snapshot() AS s")).one()
        rows = events_after(conn, after)
        conn.rollback()
    return rows, int(row[0]), int(row[1])
