"""User accounts: sign-up, password checks throttled per email, and password changes."""

from __future__ import annotations

import datetime as dt
import re

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webapi.auth.passwords import check_password, dummy_check, hash_password, password_problem
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import LoginThrottle, User, utcnow

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")


def normalise_email(value: object) -> str:
    """A trimmed, lower-cased email, or a 400."""
    if not isinstance(value, str) or not EMAIL_RE.match(value.strip()):
        raise HttpError(400, "'email' must be an email address.")
    return value.strip().lower()


def get_user(user_id: int) -> User:
    """The user of a resolved principal (who exists: the principal was loaded from the row)."""
    user = db.session.get(User, user_id)
    assert user is not None
    return user


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


def _record_failure(email: str) -> None:
    # Stored in the database so the limit holds across every worker and host.
    now = utcnow()
    row = db.session.get(LoginThrottle, email)
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
    row = db.session.get(LoginThrottle, email)
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


def replace_password(email: str, current: str, new: str) -> User:
    """Set a new password and end every other session; 400 if weak, 403 if `current` is wrong."""
    problem = password_problem(new)
    if problem:
        raise HttpError(400, "New " + problem + ".")
    try:
        # Throttled like a login: a stolen session cannot brute-force the current password.
        user = authenticate(email, current)
    except HttpError as exc:
        if exc.status != 401:
            raise
        raise HttpError(403, "The current password is wrong.") from None
    user.password_hash = hash_password(new, current_app.config["BCRYPT_ROUNDS"])
    user.session_generation += 1  # every copy of the session cookie dies with the old generation
    db.session.commit()
    return user
