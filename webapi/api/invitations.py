"""Answering an invitation: the invitee, signed in as a user, accepts or declines it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from webapi.auth.caller import require_user
from webapi.services.invitations import accept, decline

bp = Blueprint("invitations", __name__)

# A larger id overflows the INTEGER column (a 500 on SQLite); beyond it is a plain 404.
ID = "<int(max=2147483647):invitation_id>"


# A session (with its CSRF token), never an API key: a key belongs to a project and acts for
# it, while joining another project is the user's own decision (403 for keys).
@bp.post(f"/invitations/{ID}/accept")
def accept_invitation(invitation_id: int) -> Any:
    principal = require_user()
    return jsonify(project=accept(invitation_id, principal.user_id, principal.email))


@bp.post(f"/invitations/{ID}/decline")
def decline_invitation(invitation_id: int) -> Any:
    principal = require_user()
    decline(invitation_id, principal.email)
    return "", 204
