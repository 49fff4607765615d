"""Sign up, log in, log out, change the password, and /me."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webapi.api.inputs import field, json_body
from webapi.auth.caller import require_principal, require_user
from webapi.auth.passwords import check_password, dummy_check, hash_password, password_problem
from webapi.auth.sessions import end_sessions, renew_session, start_session
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import LoginThrottle, Membership, Project, User, iso, utcnow

bp = Blueprint("accounts", __name__)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")


def normalise_email(value: object) -> str:
    """A trimmed, lower-cased email, or a 400."""
    if not isinstance(value, str) or not EMAIL_RE.match(value.strip()):
        raise HttpError(400, "'email' must be an email address.")
    return value.strip().lower()


def create_user(email: str, password: str) -> User:
    """A new user; 409 when the email is taken."""
    problem = password_problem(password)
    if problem:
        raise HttpError(400, problem[0].upper() + problem[1:] + ".")
    rounds = current_app.config["BCRYPT_ROUNDS"]
    user = User(email=email, password_hash=hash_password(password, rounds))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise HttpError(409, "An account with this email already exists.") from None
    return user


@bp.post("/auth/signup")
def signup() -> Any:
    if not current_app.config["SIGNUP_OPEN"]:
        raise HttpError(403, "Sign-up is closed on this server; ask an admin to add you.")
    body = json_body()
    email = normalise_email(body.get("email"))
    password = field(body, "password", str)
    assert password is not None
    user = create_user(email, password)
    return jsonify(user=user.to_dict()), 201


def _throttle_row(email: str) -> LoginThrottle | None:
    return db.session.get(LoginThrottle, email)


def _record_failure(email: str) -> None:
    # Stored in the database so the limit holds across every worker and host.
    now = utcnow()
    row = _throttle_row(email)
    if row is None:
        row = LoginThrottle(email=email, failures=0)
        db.session.add(row)
    row.failures += 1
    row.updated_at = now
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    if row.failures >= limit:
        seconds = current_app.config["LOGIN_LOCKOUT_SECONDS"] * 2 ** min(row.failures - limit, 4)
        row.locked_until = now + dt.timedelta(seconds=seconds)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent first failure created the row
        db.session.rollback()


def authenticate(email: str, password: str) -> User:
    """The user for these credentials; 429 while locked out, 401 on a mismatch."""
    row = _throttle_row(email)
    now = utcnow()
    if row is not None and row.locked_until is not None and row.locked_until > now:
        error = HttpError(429, "Too many failed logins for this account; try again later.")
        error.headers["Retry-After"] = str(int((row.locked_until - now).total_seconds()) + 1)
        raise error
    rounds = current_app.config["BCRYPT_ROUNDS"]
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_check(password, rounds)
        ok = False
    else:
        ok = check_password(password, user.password_hash)
    if not ok or user is None:
        _record_failure(email)
        raise HttpError(401, "Wrong email or password.")
    if row is not None:
        db.session.execute(delete(LoginThrottle).where(LoginThrottle.email == email))
        db.session.commit()
    return user


@bp.post("/auth/login")
def login() -> Any:
    body = json_body()
    email = normalise_email(body.get("email"))
    password = field(body, "password", str)
    assert password is not None
    user = authenticate(email, password)
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
    body = json_body()
    current = field(body, "current_password", str)
    new = field(body, "new_password", str)
    assert current is not None and new is not None
    problem = password_problem(new)
    if problem:
        raise HttpError(400, "New " + problem + ".")
    try:
        # Throttled like a login: a stolen session cannot brute-force the current password.
        user = authenticate(principal.email, current)
    except HttpError as exc:
        if exc.status != 401:
            raise
        raise HttpError(403, "The current password is wrong.") from None
    user.password_hash = hash_password(new, current_app.config["BCRYPT_ROUNDS"])
    user.session_generation += 1  # every other copy of the session cookie dies
    db.session.commit()
    renew_session(user)
    return "", 204


def projects_of(user_id: int) -> list[dict[str, Any]]:
    """The user's projects with their role, by slug."""
    rows = db.session.execute(
        select(Project, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == user_id)
        .order_by(Project.slug)
    )
    return [
        {"slug": p.slug, "name": p.name, "role": role, "created_at": iso(p.created_at)}
        for p, role in rows
    ]


@bp.get("/me")
def me() -> Any:
    principal = require_principal()
    user = db.session.get(User, principal.user_id)
    assert user is not None
    if principal.is_key:
        key = {
            "id": principal.key_id,
            "name": principal.key_name,
            "prefix": principal.key_prefix,
            "role": principal.key_role,
            "project": principal.key_project_slug,
        }
        projects = [p for p in projects_of(user.id) if p["slug"] == principal.key_project_slug]
        for p in projects:
            p["role"] = principal.key_role
        return jsonify(user=user.to_dict(), key=key, projects=projects)
    return jsonify(user=user.to_dict(), key=None, projects=projects_of(user.id))
