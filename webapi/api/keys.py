"""API keys of a project: create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select

from ..auth import Principal, ProjectRef, project_role
from ..errors import HttpError
from ..extensions import db
from ..models import ROLE_RANK, ROLES, ApiKey, iso, utcnow
from ..security import new_api_key
from ..versions import log_event
from .inputs import json_body

bp = Blueprint("keys", __name__)


def create_key(
    project: ProjectRef, principal: Principal, caller_role: str, name: object, role: object
) -> dict[str, Any]:
    """Mint a key; its role may not exceed the caller's. The plaintext is returned once."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise HttpError(400, "'name' must be a non-empty string of at most 100 characters.")
    if role not in ROLES:
        raise HttpError(400, "'role' must be one of viewer, editor, admin.")
    assert isinstance(role, str)
    if ROLE_RANK[role] > ROLE_RANK[caller_role]:
        raise HttpError(403, f"You cannot create a key with more rights ({role}) than yours.")
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


def list_keys(project: ProjectRef) -> list[dict[str, Any]]:
    """Active keys, newest first, without secrets."""
    keys = db.session.scalars(
        select(ApiKey)
        .where(ApiKey.project_id == project.id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id.desc())
    )
    return [k.to_dict() for k in keys]


def revoke_key(project: ProjectRef, principal: Principal, key_id: int) -> None:
    """Revoke a key of this project, effective on the next request."""
    key = db.session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.project_id == project.id, ApiKey.revoked_at.is_(None)
        )
    )
    if key is None:
        raise HttpError(404, f"No active key {key_id} in this project.")
    key.revoked_at = utcnow()
    log_event(project.id, principal.actor, "key.revoked", None, key_id=key.id, name=key.name,
              prefix=key.prefix)
    db.session.commit()


@bp.post("/projects/<p>/keys")
def post_key(p: str) -> Any:
    project, role, principal = project_role(p, "admin")
    body = json_body()
    return jsonify(create_key(project, principal, role, body.get("name"), body.get("role"))), 201


@bp.get("/projects/<p>/keys")
def get_keys(p: str) -> Any:
    project, _, _ = project_role(p, "admin")
    return jsonify(keys=list_keys(project))


# max: a larger id overflows the INTEGER column (a 500 on SQLite); beyond it is a plain 404.
@bp.delete("/projects/<p>/keys/<int(max=2147483647):key_id>")
def delete_key(p: str, key_id: int) -> Any:
    project, _, principal = project_role(p, "admin")
    revoke_key(project, principal, key_id)
    return "", 204
