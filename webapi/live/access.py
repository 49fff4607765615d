"""Whether the caller of an open stream or long poll may still read its project (SPEC §12).

A stream is authorised when it opens; a key revoked, a member removed, a session logged out or
a password changed later must end it too. Each stream asks the database again, cheaply: one
indexed query at most every LIVE_RECHECK_SECONDS (default 15 s, the keep-alive's period), and
at once when an event it is about to send names its caller (``key.revoked`` of its key,
``member.removed``/``member.left`` of its user), so a revocation through the API ends the
stream before it sends another event. The streams of one process share their answers per
caller (Answers): 500 streams of one key ask once a period, not 500 times.
"""

from __future__ import annotations

import threading
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


class Answers:
    """The newest answer per caller in this process, shared by its streams; one asks at a time
    per caller, and those waiting take its answer when it is new enough for them."""

    KEEP = 1024  # answers kept before the old ones are dropped

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, Caller], tuple[float, HttpError | None]] = {}
        self._asking: dict[tuple[str, Caller], threading.Lock] = {}
        self.queries = 0  # made in this process (tests and the benchmark look)

    def ask(self, engine: Engine, caller: Caller, newer_than: float
            ) -> tuple[float, HttpError | None]:
        """(when asked, the refusal or None): an answer asked after `newer_than`, else a new one."""
        key = (str(engine.url), caller)  # two apps of a process may share ids, not a database
        with self._lock:
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:
            with self._lock:
                known = self._answers.get(key)
            if known is not None and known[0] > newer_than:
                return known
            asked_at = time.monotonic()
            answer = (asked_at, refusal(engine, caller))
            with self._lock:
                self.queries += 1
                self._answers[key] = answer
                if len(self._answers) > self.KEEP:
                    self._forget(asked_at - 3600)
            return answer

    def _forget(self, before: float) -> None:
        for key in [k for k, (at, _) in self._answers.items() if at < before]:
            del self._answers[key]
            lock = self._asking.get(key)
            if lock is not None and not lock.locked():
                del self._asking[key]


ANSWERS = Answers()


class Recheck:
    """When a stream must ask again, and the asking: at most once per `every` seconds, unless
    an event names its caller."""

    def __init__(self, engine: Engine, caller: Caller, every: float,
                 answers: Answers = ANSWERS) -> None:
        self.engine, self.caller, self.every = engine, caller, max(every, SHORTEST)
        self.answers = answers
        self._due = time.monotonic() + self.every

    def due_in(self) -> float:
        """Seconds until the next periodic check (0 when it is due)."""
        return max(0.0, self._due - time.monotonic())

    def check(self, events: Iterable[dict[str, Any]] = ()) -> HttpError | None:
        """The refusal, when a check is due (by time, or by an event about the caller) and
        finds access gone; None otherwise. Raises what the database raises."""
        now = time.monotonic()
        if any(self._names_caller(e) for e in events):
            newer_than = now  # asked after the event was taken, so after it committed
        elif now >= self._due:
            newer_than = now - self.every  # another stream's answer of this period will do
        else:
            return None
        asked_at, found = self.answers.ask(self.engine, self.caller, newer_than)
        # Due again a period after the answer was asked: never older than `every` when used.
        self._due = asked_at + self.every
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
