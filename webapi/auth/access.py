"""Who is calling (API key or session) and what they may do in a project."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app, g, request, session
from flask_login import current_user
from sqlalchemy import bindparam, select, update

from webapi.auth.secrets import key_matches, split_key, tokens_match
from webapi.errors import HttpError
from webapi.extensions import db, login_manager
from webapi.models import ROLE_RANK, ApiKey, Membership, Project, User, utcnow

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MALFORMED_KEY = "The API key is malformed."


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user by session, or an API key with its effective role."""

    user_id: int
    email: str
    key_id: int | None = None
    key_name: str | None = None
    key_prefix: str | None = None
    key_project_id: int | None = None
    key_project_slug: str | None = None
    key_role: str | None = None

    @property
    def is_key(self) -> bool:
        return self.key_id is not None

    @property
    def actor(self) -> str:
        """How the caller appears in the events log (never the key's secret)."""
        if self.is_key:
            return f"{self.email} (key {self.key_prefix})"
        return self.email


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the session user, refusing cookies from an older session generation."""
    ident, _, generation = user_id.partition(".")
    if not ident.isdigit() or not generation.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or user.session_generation != int(generation):
        return None
    return user


def presented_key() -> str | None:
    """The API key the request presents (X-API-Key or Authorization: Bearer), or None."""
    key = request.headers.get("X-API-Key")
    if key is not None:
        return key.strip()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


_KEYS = ApiKey.__table__
_MEMBERS = Membership.__table__
# One Core statement, built once: the key, its project and its creator's current role. Plain
# tuples, no ORM identity map, and SQLAlchemy's compiled cache is hit without rebuilding the
# expression on every request. Nothing about the key is cached between requests, so a revoked
# key or a demoted creator is refused on the very next request.
_KEY_QUERY = (
    select(
        _KEYS.c.id, _KEYS.c.name, _KEYS.c.role, _KEYS.c.secret_hash, _KEYS.c.revoked_at,
        _KEYS.c.last_used_at, _KEYS.c.project_id, _KEYS.c.created_by_id,
        Project.__table__.c.slug, User.__table__.c.email, _MEMBERS.c.role,
    )
    .select_from(
        _KEYS.join(Project.__table__, Project.__table__.c.id == _KEYS.c.project_id)
        .join(User.__table__, User.__table__.c.id == _KEYS.c.created_by_id)
        .outerjoin(
            _MEMBERS,
            (_MEMBERS.c.project_id == _KEYS.c.project_id)
            & (_MEMBERS.c.user_id == _KEYS.c.created_by_id),
        )
    )
    .where(_KEYS.c.prefix == bindparam("prefix"))
)


def check_key(
    plaintext: str, secret_hash: str, revoked_at: dt.datetime | None, key_role: str,
    creator_role: str | None,
) -> str:
    """The key's effective role, min(key role, creator's current role), or the 401 that says why
    not. Shared by the general path and the one-statement fetch (webapi.fetch.lookup)."""
    # SHA-256 of a 256-bit random key: about a microsecond, so no cache of the check is needed.
    if not key_matches(plaintext, secret_hash):
        raise HttpError(401, "The API key is not valid.")
    if revoked_at is not None:
        raise HttpError(401, "The API key has been revoked.")
    if creator_role is None:
        raise HttpError(401, "The API key's creator is no longer a member of its project.")
    return min(key_role, creator_role, key=ROLE_RANK.__getitem__)


def touch_due(last_used_at: dt.datetime | None, seconds: float) -> dt.datetime | None:
    """Now, when the key's last_used_at is older than `seconds` (KEY_TOUCH_SECONDS) and is
    due a write."""
    # Writing on every fetch would turn reads into writes; minute resolution is enough.
    now = utcnow()
    if last_used_at is None or now - last_used_at >= dt.timedelta(seconds=seconds):
        return now
    return None


def _principal_from_key(plaintext: str) -> Principal:
    prefix = split_key(plaintext)
    if prefix is None:
        raise HttpError(401, MALFORMED_KEY)
    row = db.session.execute(_KEY_QUERY, {"prefix": prefix}).first()
    if row is None:
        raise HttpError(401, "The API key is not valid.")
    (key_id, name, key_role, secret_hash, revoked_at, last_used_at, project_id, created_by_id,
     project_slug, email, creator_role) = row
    role = check_key(plaintext, secret_hash, revoked_at, key_role, creator_role)
    now = touch_due(last_used_at, current_app.config["KEY_TOUCH_SECONDS"])
    if now is not None:
        db.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
        db.session.commit()
    return Principal(
        user_id=created_by_id,
        email=email,
        key_id=key_id,
        key_name=name,
        key_prefix=prefix,
        key_project_id=project_id,
        key_project_slug=project_slug,
        key_role=role,
    )


def current_principal() -> Principal | None:
    """The caller, resolved once per request; a bad key is a 401 even beside a cookie."""
    if "principal" in g:
        return g.principal
    principal: Principal | None = None
    plaintext = presented_key()
    if plaintext is not None:
        principal = _principal_from_key(plaintext)
    elif current_user.is_authenticated:
        # The header for API calls, the hidden form field for admin pages.
        given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
        if request.method in UNSAFE_METHODS and not tokens_match(given, session.get("csrf_token")):
            raise HttpError(
                403, "Missing or wrong X-CSRF-Token header for a cookie session.", "csrf_failed"
            )
        principal = Principal(user_id=current_user.id, email=current_user.email)
    g.principal = principal
    return principal


def require_principal() -> Principal:
    """The caller, or a 401."""
    principal = current_principal()
    if principal is None:
        raise HttpError(401, "Authentication required: send X-API-Key or log in.")
    return principal


def require_user() -> Principal:
    """A caller signed in as a user (not an API key), or 401/403."""
    principal = require_principal()
    if principal.is_key:
        raise HttpError(403, "This action needs a user session, not an API key.")
    return principal


@dataclass(frozen=True)
class ProjectRef:
    """The project a request acts on: its id and slug, without loading the row twice."""

    id: int
    slug: str


def project_role(project_slug: str, minimum: str) -> tuple[ProjectRef, str, Principal]:
    """The project and the caller's role in it, or 401/403/404 when it is not enough."""
    principal = require_principal()
    if principal.is_key:
        if project_slug != principal.key_project_slug:
            if db.session.scalar(select(Project.id).where(Project.slug == project_slug)) is None:
                raise HttpError(404, f"No project '{project_slug}'.")
            raise HttpError(403, "This API key belongs to another project.")
        assert principal.key_project_id is not None
        project = ProjectRef(principal.key_project_id, project_slug)
        role = principal.key_role or "viewer"
    else:
        row = db.session.execute(
            select(Project.id, Membership.role)
            .join(Membership, Membership.project_id == Project.id)
            .where(Project.slug == project_slug, Membership.user_id == principal.user_id)
        ).first()
        if row is None:
            # Non-members learn nothing about whether the project exists.
            raise HttpError(404, f"No project '{project_slug}'.")
        project, role = ProjectRef(row[0], project_slug), row[1]
    if ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise HttpError(403, f"This needs the {minimum} role; you have {role}.")
    return project, role, principal


def key_project_slug() -> str:
    """The project of the calling API key, for the /api/v1/prompts shorthand."""
    principal = require_principal()
    if not principal.is_key or principal.key_project_slug is None:
        raise HttpError(400, "The /prompts shorthand needs an API key; use /projects/{p}/prompts.")
    return principal.key_project_slug
