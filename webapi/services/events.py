"""The audit log of a project: adding an event to the current write, and reading it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapi.auth.principal import ProjectRef
from webapi.extensions import db
from webapi.models import Event

# In the session's info while its transaction holds a new event: webapi/live/notify.py's commit
# hooks then tell the live hubs (NOTIFY on Postgres, a local wake-up after commit).
LOGGED = "promptsync.events_logged"


def log_event(project_id: int, actor: str, action: str, slug: str | None, **details: Any) -> None:
    """Add an audit event to the current transaction."""
    db.session.add(
        Event(project_id=project_id, actor=actor, action=action, slug=slug, details=details)
    )
    db.session.info[LOGGED] = True


def event_page(
    project: ProjectRef, limit: int, before: int | None = None
) -> tuple[list[Event], int | None]:
    """The audit log, newest first, older than the event id `before`; (page, next cursor id).
    The one query behind the API's /events and the admin's activity page."""
    query = select(Event).where(Event.project_id == project.id)
    if before is not None:
        query = query.where(Event.id < before)
    rows = list(db.session.scalars(query.order_by(Event.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)
