"""API keys of a project: create (shown once), list, revoke.

Who may do what is in ``webapi.auth.roles.require_key_manager`` (any member by session, or an
admin key) and ``webapi.services.keys`` (a member's own keys; an admin's every key).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from webapi.api.inputs import body_as
from webapi.auth.roles import require_key_manager
from webapi.services.keys import create_key, revoke_key, visible_keys
from webapi.shapes.bodies import NewKey

bp = Blueprint("keys", __name__)


@bp.post("/projects/<p>/keys")
def post_key(p: str) -> Any:
    access = require_key_manager(p)
    body = body_as(NewKey)
    return jsonify(create_key(access, body.name, body.role)), 201


@bp.get("/projects/<p>/keys")
def get_keys(p: str) -> Any:
    return jsonify(keys=visible_keys(require_key_manager(p)))


# max: a larger id overflows the INTEGER column (a 500 on SQLite); beyond it is a plain 404.
@bp.delete("/projects/<p>/keys/<int(max=2147483647):key_id>")
def delete_key(p: str, key_id: int) -> Any:
    revoke_key(require_key_manager(p), key_id)
    return "", 204
