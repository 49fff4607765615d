"""The audit log of a project: adding an event to the current write, and reading it back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from webapi.auth.principal import ProjectRef
from webapi.extensions import db
from webapi.models import Event
from webapi.services.pages import newest_page
from webapi.webhooks import outbox

# In the session's info while its transaction holds a new event: webapi/live/notify.py's commit
# hooks then tell the live hubs (NOTIFY on Postgres, a local wake-up after commit).
LOGGED = "promptsync.events_logged"


def log_event(project_id: int, actor: str, action: str, slug: str | None, **details: Any) -> None:
    """Add an audit event to the current transaction, with its webhook deliveries."""
    event = Event(project_id=project_id, actor=actor, action=action, slug=slug, details=details)
    db.session.add(event)
    outbox.enqueue(event)  # the outbox rows commit (or roll back) with the event
    db.session.info[LOGGED] = True


def log_events(rows: list[dict[str, Any]]) -> None:
    """Add many events of one project to the current transaction in one statement (a batch
    push), with their webhook deliveries; rows hold Event's columns."""
    if not rows:
        return
    table = Event.__table__
    project_id = rows[0]["project_id"]
    if outbox.watched(project_id):  # the ids are needed only for the deliveries
        ids = db.session.scalars(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).all()
        outbox.enqueue_rows(project_id, [(event_id, row["action"], row["slug"])
                                         for event_id, row in zip(ids, rows, strict=True)])
    else:
        db.session.execute(insert(table), rows)
    db.session.info[LOGGED] = True


def event_page(
    project: ProjectRef, limit: int, before: int | None = None
) -> tuple[list[Event], int | None]:
    """The audit log, newest first, older than the event id `before`; (page, next cursor id).
    The one query behind the API's /events and the admin's activity page."""
    query = select(Event).where(Event.project_id == project.id)
    rows, more = newest_page(query, Event.id, limit, before)
    return rows, (rows[-1].id if more else None)
