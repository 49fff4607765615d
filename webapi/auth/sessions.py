"""Cookie sessions: the user loader, logging in and out, and ending every copy of a session.

The cookie names the user and a session generation; bumping the user's generation (log out,
password change) invalidates every copy of the cookie at once.
"""

from __future__ import annotations

from flask import session
from flask_login import current_user, login_user, logout_user

from webapi.auth.csrf import new_csrf_token, require_csrf
from webapi.auth.principal import Principal
from webapi.extensions import db, login_manager
from webapi.models import User


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


def session_principal() -> Principal | None:
    """The signed-in user (CSRF-checked when the request writes), or None."""
    if not current_user.is_authenticated:
        return None
    require_csrf()
    return Principal(user_id=current_user.id, email=current_user.email)


def start_session(user: User) -> str:
    """Log the user in on a fresh session and return its CSRF token."""
    session.clear()  # no state survives from before login (session fixation)
    login_user(user)
    token = new_csrf_token()
    session["csrf_token"] = token
    return token


def renew_session(user: User) -> None:
    """Move this session to the user's new generation, keeping its CSRF token."""
    token = session.get("csrf_token")
    login_user(user)
    session["csrf_token"] = token


def end_sessions(user_id: int) -> None:
    """End every copy of the user's session cookie by moving to a new generation."""
    user = db.session.get(User, user_id)
    if user is not None:
        user.session_generation += 1
        db.session.commit()
    logout_user()
    session.clear()
