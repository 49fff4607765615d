"""Whether the caller of an open stream or long poll may still read its project (SPEC §12).

A stream is authorised when it opens; a key revoked, a member removed, a session logged out or
a password changed later must end it too. Each stream asks the database again, cheaply: one
indexed query at most every LIVE_RECHECK_SECONDS (default 15 s, the keep-alive's period: 500
streams make about 33 small queries a second), and at once when an event it is about to send
names its caller (``key.revoked`` of its key, ``member.removed``/``member.left`` of its user),
so a revocation through the API ends the stream before it sends another event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.models import ApiKey, Membership, User

# The refusals a request of the same caller would get now (webapi/auth): same status, same words.
NO_CALLER = "Authentication required: send X-API-Key or log in."
KEY_GONE = "The API key is not valid."
KEY_REVOKED = "The API key has been revoked."
CREATOR_GONE = "The API key's creator is no longer a member of its project."
_ABOUT_MEMBERS = ("member.removed", "member.left")
SHORTEST = 0.1  # s: LIVE_RECHECK_SECONDS below this (or 0) would ask in a tight loop

_KEYS, _MEMBERS, _USERS = ApiKey.__table__, Membership.__table__, User.__table__


@dataclass(frozen=True)
class Caller:
    """Who opened the stream, as the check asks about them again."""

    project_id: int
    project_slug: str
    user_id: int
    email: str
    key_id: int | None = None
    generation: int | None = None  # the session cookie's generation (None for a key)


def caller_of(project: ProjectRef, principal: Principal, generation: int | None) -> Caller:
    """The Caller of an authorised request (generation: the session user's, for a cookie)."""
    return Caller(project.id, project.slug, principal.user_id, principal.email,
                  principal.key_id, None if principal.is_key else generation)


def refusal(engine: Engine, caller: Caller) -> HttpError | None:
    """The error the caller's next request would get, or None while they may still read."""
    with engine.connect() as conn:
        if caller.key_id is not None:
            # The key and its creator's membership: check_key's rules (webapi/auth/keys.py).
            row = conn.execute(
                select(_KEYS.c.revoked_at, _MEMBERS.c.role)
                .select_from(_KEYS.outerjoin(_MEMBERS, (_MEMBERS.c.project_id == _KEYS.c.project_id)
                                             & (_MEMBERS.c.user_id == _KEYS.c.created_by_id)))
                .where(_KEYS.c.id == caller.key_id)
            ).first()
            if row is None:
                return HttpError(401, KEY_GONE)
            if row[0] is not None:
                return HttpError(401, KEY_REVOKED)
            if row[1] is None:
                return HttpError(401, CREATOR_GONE)
            return None
        row = conn.execute(
            select(_USERS.c.session_generation, _MEMBERS.c.role)
            .select_from(_USERS.outerjoin(_MEMBERS, (_MEMBERS.c.user_id == _USERS.c.id)
                                          & (_MEMBERS.c.project_id == caller.project_id)))
            .where(_USERS.c.id == caller.user_id)
        ).first()
    if row is None or row[0] != caller.generation:
        return HttpError(401, NO_CALLER)  # logged out, or the password changed: a dead cookie
    if row[1] is None:
        return HttpError(404, f"No project '{caller.project_slug}'.")  # as to any non-member
    return None


class Recheck:
    """When a stream must ask again, and the asking: at most once per `every` seconds, unless
    an event names its caller."""

    def __init__(self, engine: Engine, caller: Caller, every: float) -> None:
        self.engine, self.caller, self.every = engine, caller, max(every, SHORTEST)
        self._due = time.monotonic() + self.every
        self.checks = 0  # queries made (tests look)

    def due_in(self) -> float:
        """Seconds until the next periodic check (0 when it is due)."""
        return max(0.0, self._due - time.monotonic())

    def check(self, events: Iterable[dict[str, Any]] = ()) -> HttpError | None:
        """The refusal, when a check is due (by time, or by an event about the caller) and
        finds access gone; None otherwise. Raises what the database raises."""
        if self.due_in() > 0 and not any(self._names_caller(e) for e in events):
            return None
        self.checks += 1
        found = refusal(self.engine, self.caller)
        self._due = time.monotonic() + self.every
        return found

    def _names_caller(self, event: dict[str, Any]) -> bool:
        details = event.get("details")
        if not isinstance(details, dict):
            return False
        action = event.get("action")
        if action == "key.revoked":
            return self.caller.key_id is not None and details.get("key_id") == self.caller.key_id
        # A key's email is its creator's: their removal ends the key's streams too.
        return action in _ABOUT_MEMBERS and details.get("email") == self.caller.email
