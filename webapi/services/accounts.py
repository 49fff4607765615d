"""User accounts: sign-up, password checks throttled per email, and password changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, case, delete, literal, null, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from webapi.auth.passwords import check_password, dummy_check, hash_password, password_problem
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import LoginThrottle, User, utcnow
from webapi.services.emails import email_problem
from webapi.services.invitations import is_invited

SIGNUP_CLOSED = ("Sign-up is closed on this server except for invited emails; ask an admin to "
                 "invite yours.")


def normalise_email(value: object, name: str = "email") -> str:
    """A checked, trimmed, lower-cased email (compared case-insensitively), or a 400 naming it."""
    if not isinstance(value, str):
        raise HttpError(400, f"'{name}' must be an email address.")
    email = value.strip(" ").lower()  # spaces around a pasted address; nothing else is trimmed
    problem = email_problem(email)
    if problem:
        raise HttpError(400, f"'{name}' must be an email address: {problem}.")
    return email


def get_user(user_id: int) -> User:
    """The user of a resolved principal (who exists: the principal was loaded from the row)."""
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def check_signup(email: str) -> None:
    """403 unless sign-up is open, or ``email`` (normalised) has a pending invitation: a closed
    server still lets an invitee make the account that accepts it."""
    if not current_app.config["SIGNUP_OPEN"] and not is_invited(email):
        raise HttpError(403, SIGNUP_CLOSED)


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


def _lock_after(attempts: ColumnElement[int], now: dt.datetime) -> ColumnElement[Any]:
    """locked_until once ``attempts`` have been made: none below the limit, then the lockout
    period, doubled for each further attempt up to 16 times."""
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    period = dt.timedelta(seconds=current_app.config["LOGIN_LOCKOUT_SECONDS"])
    # The five possible deadlines are computed here, so the SQL needs no date arithmetic.
    steps = [(attempts == limit + n, now + period * 2**n) for n in range(4)]
    return case((attempts < limit, null()), *steps, else_=now + period * 16)


def _reserve_attempt(email: str) -> bool:
    """Count one attempt for ``email`` unless it is locked out; False when it is."""
    # One statement, atomic on both databases: the attempt is counted (and the lock set when it
    # reaches the limit) before the password is checked, so however many arrive at once, no
    # more than the limit get a check. A success deletes the row; a failure leaves it counted.
    now = utcnow()
    table = LoginThrottle.__table__
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        module.insert(table)
        .values(email=email, failures=1, locked_until=_lock_after(literal(1), now),
                updated_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.email],
            set_={"failures": table.c.failures + 1,
                  "locked_until": _lock_after(table.c.failures + 1, now), "updated_at": now},
            where=or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
        )
        .returning(table.c.failures)
    )
    db.session.commit()  # no stale read transaction: SQLite must take its write lock afresh
    counted = db.session.execute(statement).first() is not None
    db.session.commit()  # never hold the write lock while bcrypt runs
    return counted


def _locked_out(email: str) -> HttpError:
    row = db.session.get(LoginThrottle, email)
    now = utcnow()
    # The lock may have ended (or a success reset it) since the attempt was refused.
    left = (row.locked_until - now).total_seconds() if row and row.locked_until else 0
    error = HttpError(429, "Too many failed logins for this account; try again later.")
    error.headers["Retry-After"] = str(max(int(left), 0) + 1)
    return error


def authenticate(email: str, password: str) -> User:
    """The user for these credentials; 429 while locked out, 401 on a mismatch."""
    if not _reserve_attempt(email):
        raise _locked_out(email)
    rounds = current_app.config["BCRYPT_ROUNDS"]
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_check(password, rounds)  # unknown emails take as long, and are throttled alike
        ok = False
    else:
        ok = check_password(password, user.password_hash)
    if not ok or user is None:
        raise HttpError(401, "Wrong email or password.")
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
