"""The admin's activity page: a project's audit log, newest first, a page at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import render_template

from webapi.admin.common import bp
from webapi.auth.roles import project_role
from webapi.errors import HttpError
from webapi.models import Event
from webapi.paging import encode_cursor, int_arg, int_cursor_arg
from webapi.services.events import event_page

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Actions grouped for the coloured chip beside each line; anything else shows as "other".
KINDS = {"version": "prompt", "prompt": "prompt", "label": "label", "key": "key",
         "member": "member", "invitation": "member", "project": "project", "promotion": "label",
         "settings": "project", "webhook": "webhook"}


@dataclass
class ActivityRow:
    """One event as the page shows it; details are read defensively (backups import events)."""

    id: int
    action: str
    kind: str
    actor: str
    slug: str | None
    details: dict[str, Any]
    created_at: dt.datetime

    def number(self, name: str) -> int | None:
        """details[name] when it is a version number, else None (never a broken link)."""
        value = self.details.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def text(self, name: str) -> str | None:
        """details[name] as text, or None when absent."""
        value = self.details.get(name)
        return None if value is None else str(value)

    def words(self, name: str) -> list[str]:
        """details[name] when it is a list (a webhook's events), each as text; else []."""
        value = self.details.get(name)
        return [str(item) for item in value] if isinstance(value, list) else []

    def extra(self) -> list[tuple[str, str]]:
        """Every detail as (name, text), for actions this page has no sentence for."""
        return [(str(k), str(v)) for k, v in sorted(self.details.items())]


def row_of(event: Event) -> ActivityRow:
    details = event.details if isinstance(event.details, dict) else {}
    kind = KINDS.get(event.action.partition(".")[0], "other")
    return ActivityRow(event.id, event.action, kind, event.actor, event.slug, details,
                       event.created_at)


@bp.get("/p/<p>/activity")
def activity(p: str) -> Any:
    """Who did what, when: versions, labels, keys and members; any member may read it."""
    access = project_role(p, "viewer")
    limit = int_arg("limit", 1, MAX_PAGE_SIZE) or PAGE_SIZE
    try:
        before = int_cursor_arg()
    except HttpError:
        raise HttpError(400, "This link's 'cursor' was not made by this page; "
                             "open Activity from the sidebar to start from the newest.") from None
    events, after = event_page(access.project, limit, before)
    custom = limit if limit != PAGE_SIZE else None
    return render_template(
        "admin/activity.html", project=access.project, role=access.role,
        rows=[row_of(e) for e in events],
        next_cursor=encode_cursor(after) if after is not None else None,
        paged=before is not None, limit=custom,
    )
