"""Sign up, log in, log out, change the password, and /me."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from webapi.api.inputs import body_as
from webapi.auth.caller import require_principal, require_user
from webapi.auth.sessions import end_sessions, renew_session, start_session
from webapi.services.accounts import (
    authenticate,
    check_signup,
    create_user,
    get_user,
    normalise_email,
    replace_password,
)
from webapi.services.invitations import invitations_for
from webapi.services.projects import projects_of
from webapi.shapes.bodies import Credentials, PasswordChange, SignUp

bp = Blueprint("accounts", __name__)


@bp.post("/auth/signup")
def signup() -> Any:
    body = body_as(SignUp)
    email = normalise_email(body.email)
    check_signup(email)  # closed by config: an invited email only
    user = create_user(email, body.password)
    return jsonify(user=user.to_dict()), 201


@bp.post("/auth/login")
def login() -> Any:
    body = body_as(Credentials)
    user = authenticate(normalise_email(body.email), body.password)
    token = start_session(user)
    return jsonify(user=user.to_dict(), csrf_token=token)


@bp.post("/auth/logout")
def logout() -> Any:
    principal = require_user()
    end_sessions(principal.user_id)
    return "", 204


@bp.post("/auth/password")
def change_password() -> Any:
    principal = require_user()  # a session (with its CSRF token), never an API key
    body = body_as(PasswordChange)
    user = replace_password(principal.email, body.current_password, body.new_password)
    renew_session(user)  # every other copy of the session cookie is dead; this one lives on
    return "", 204


@bp.get("/me")
def me() -> Any:
    principal = require_principal()
    user = get_user(principal.user_id)
    key = None
    if principal.is_key:
        key = {
            "id": principal.key_id,
            "name": principal.key_name,
            "prefix": principal.key_prefix,
            "role": principal.key_role,
            "project": principal.key_project_slug,
        }
    # A key acts for its project only: the user's invitations to others are not its business.
    invitations = [] if principal.is_key else invitations_for(user.email)
    return jsonify(user=user.to_dict(), key=key, projects=projects_of(principal),
                   invitations=invitations)
