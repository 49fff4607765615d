"""API keys of a project: create (the plaintext shown once), list, revoke.

Admins manage every key of the project. Any other member manages their own keys: a key they
create has at most their role (and stays capped by their current role, see
``webapi.auth.keys.check_key``), they see the keys they created and may revoke those.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapi.auth.keys import new_api_key
from webapi.auth.principal import ProjectAccess
from webapi.characters import check_line
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK, ROLES, ApiKey, Membership, iso, utcnow
from webapi.services.events import log_event


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def creatable_roles(caller_role: str) -> list[str]:
    """The roles a caller with ``caller_role`` may give a key: their own and those below."""
    return [r for r in ROLES if ROLE_RANK[r] <= ROLE_RANK[caller_role]]


def create_key(access: ProjectAccess, name: object, role: object) -> dict[str, Any]:
    """Mint a key; its role may not exceed the caller's. The plaintext is returned once."""
    project, principal = access.project, access.principal
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise HttpError(400, "'name' must be a non-empty string of at most 100 characters.")
    check_line(name, "name")
    if role not in ROLES:
        raise HttpError(400, "'role' must be one of viewer, editor, admin.")
    assert isinstance(role, str)
    if role not in creatable_roles(access.role):
        raise HttpError(
            403, f"You are {_a(access.role)} of '{project.slug}': a key you create can have at "
                 f"most the {access.role} role, not {role}."
        )
    plaintext, prefix, secret_hash = new_api_key()
    key = ApiKey(
        project_id=project.id, created_by_id=principal.user_id, name=name.strip(), role=role,
        prefix=prefix, secret_hash=secret_hash,
    )
    db.session.add(key)
    db.session.flush()
    # The creator must still be a member now that this write holds its locks: a removal that
    # committed meanwhile revoked their keys without seeing this one. FOR UPDATE makes a
    # removal on Postgres wait for this key (then revoke it) or this check wait for the removal.
    still_member = db.session.scalar(
        select(Membership.role)
        .where(Membership.project_id == project.id, Membership.user_id == principal.user_id)
        .with_for_update()
    )
    if still_member is None:
        db.session.rollback()
        raise HttpError(404, f"No project '{project.slug}'.")  # as to any non-member
    log_event(project.id, principal.actor, "key.created", None, key_id=key.id, name=key.name,
              role=role, prefix=prefix)
    db.session.commit()
    return {"id": key.id, "name": key.name, "role": role, "prefix": prefix, "key": plaintext,
            "created_at": iso(key.created_at)}


def visible_keys(access: ProjectAccess) -> list[dict[str, Any]]:
    """Active keys, newest first, without secrets: all for an admin, else the caller's own."""
    query = (
        select(ApiKey)
        .options(joinedload(ApiKey.created_by))  # to_dict names the creator: one query, not N
        .where(ApiKey.project_id == access.project.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id.desc())
    )
    if access.role != "admin":
        query = query.where(ApiKey.created_by_id == access.principal.user_id)
    return [k.to_dict() for k in db.session.scalars(query)]


def revoke_key(access: ProjectAccess, key_id: int) -> None:
    """Revoke a key of this project, effective on the next request; a non-admin only their own."""
    project, principal = access.project, access.principal
    key = db.session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.project_id == project.id, ApiKey.revoked_at.is_(None)
        )
    )
    if key is None:
        raise HttpError(404, f"No active key {key_id} in this project.")
    if access.role != "admin" and key.created_by_id != principal.user_id:
        raise HttpError(
            403, f"Key {key_id} was created by another member; only an admin of "
                 f"'{project.slug}' can revoke it."
        )
    _revoke(key, principal.actor)
    db.session.commit()


def revoke_keys_of(project_id: int, user_id: int, actor: str) -> None:
    """Revoke every active key a user created in a project, in the caller's transaction."""
    # Revoked, not only suspended by the membership join in check_key: re-adding the user later
    # must not bring them back.
    keys = db.session.scalars(
        select(ApiKey).where(
            ApiKey.project_id == project_id, ApiKey.created_by_id == user_id,
            ApiKey.revoked_at.is_(None),
        ).order_by(ApiKey.id)
    )
    for key in keys:
        _revoke(key, actor, reason="member.removed")


def _revoke(key: ApiKey, actor: str, **details: str) -> None:
    key.revoked_at = utcnow()
    log_event(key.project_id, actor, "key.revoked", None, key_id=key.id, name=key.name,
              prefix=key.prefix, **details)
