"""API keys of a project: create (shown once), list, revoke.

Admins manage every key of the project. Any other member manages their own keys: a key they
create has at most their role (and keeps being capped by their current role, see
``auth.check_key``), they list the keys they created and may revoke those. Key management by
API key stays an admin-key power: a viewer or editor key cannot mint, list or revoke keys, so a
leaked key cannot be used to make more.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapi.api.inputs import json_body
from webapi.auth.keys import new_api_key
from webapi.auth.principal import Principal, ProjectRef
from webapi.auth.roles import project_role
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK, ROLES, ApiKey, iso, utcnow
from webapi.services.versions import log_event

bp = Blueprint("keys", __name__)


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def creatable_roles(caller_role: str) -> list[str]:
    """The roles a caller with ``caller_role`` may give a key: their own and those below."""
    return [r for r in ROLES if ROLE_RANK[r] <= ROLE_RANK[caller_role]]


def create_key(
    project: ProjectRef, principal: Principal, caller_role: str, name: object, role: object
) -> dict[str, Any]:
    """Mint a key; its role may not exceed the caller's. The plaintext is returned once."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise HttpError(400, "'name' must be a non-empty string of at most 100 characters.")
    if role not in ROLES:
        raise HttpError(400, "'role' must be one of viewer, editor, admin.")
    assert isinstance(role, str)
    if role not in creatable_roles(caller_role):
        raise HttpError(
            403, f"You are {_a(caller_role)} of '{project.slug}': a key you create can have at "
                 f"most the {caller_role} role, not {role}."
        )
    plaintext, prefix, secret_hash = new_api_key()
    key = ApiKey(
        project_id=project.id, created_by_id=principal.user_id, name=name.strip(), role=role,
        prefix=prefix, secret_hash=secret_hash,
    )
    db.session.add(key)
    db.session.flush()
    log_event(project.id, principal.actor, "key.created", None, key_id=key.id, name=key.name,
              role=role, prefix=prefix)
    db.session.commit()
    return {"id": key.id, "name": key.name, "role": role, "prefix": prefix, "key": plaintext,
            "created_at": iso(key.created_at)}


def list_keys(project: ProjectRef, created_by_id: int | None = None) -> list[dict[str, Any]]:
    """Active keys, newest first, without secrets; only one user's when ``created_by_id``."""
    query = (
        select(ApiKey)
        .options(joinedload(ApiKey.created_by))  # to_dict names the creator: one query, not N
        .where(ApiKey.project_id == project.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id.desc())
    )
    if created_by_id is not None:
        query = query.where(ApiKey.created_by_id == created_by_id)
    return [k.to_dict() for k in db.session.scalars(query)]


def visible_keys(project: ProjectRef, caller_role: str, principal: Principal
                 ) -> list[dict[str, Any]]:
    """The active keys the caller may see: every key for an admin, else the ones they created."""
    return list_keys(project, created_by_id=None if caller_role == "admin" else principal.user_id)


def revoke_key(project: ProjectRef, principal: Principal, key_id: int, caller_role: str) -> None:
    """Revoke a key of this project, effective on the next request; a non-admin only their own."""
    key = db.session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.project_id == project.id, ApiKey.revoked_at.is_(None)
        )
    )
    if key is None:
        raise HttpError(404, f"No active key {key_id} in this project.")
    if caller_role != "admin" and key.created_by_id != principal.user_id:
        raise HttpError(
            403, f"Key {key_id} was created by another member; only an admin of "
                 f"'{project.slug}' can revoke it."
        )
    key.revoked_at = utcnow()
    log_event(project.id, principal.actor, "key.revoked", None, key_id=key.id, name=key.name,
              prefix=key.prefix)
    db.session.commit()


def key_manager(p: str) -> tuple[ProjectRef, str, Principal]:
    """Any member signed in as a user, or an admin API key; 401/403/404 otherwise.

    The admin's API keys page goes through here too, so both answer to the same rules."""
    project, role, principal = project_role(p, "viewer")
    if principal.is_key and role != "admin":
        raise HttpError(
            403, f"An API key with the {role} role cannot manage keys: sign in (promptsync "
                 "login, or /admin) to manage your own keys, or use an admin key."
        )
    return project, role, principal


@bp.post("/projects/<p>/keys")
def post_key(p: str) -> Any:
    project, role, principal = key_manager(p)
    body = json_body()
    return jsonify(create_key(project, principal, role, body.get("name"), body.get("role"))), 201


@bp.get("/projects/<p>/keys")
def get_keys(p: str) -> Any:
    project, role, principal = key_manager(p)
    return jsonify(keys=visible_keys(project, role, principal))


# max: a larger id overflows the INTEGER column (a 500 on SQLite); beyond it is a plain 404.
@bp.delete("/projects/<p>/keys/<int(max=2147483647):key_id>")
def delete_key(p: str, key_id: int) -> Any:
    project, role, principal = key_manager(p)
    revoke_key(project, principal, key_id, role)
    return "", 204
