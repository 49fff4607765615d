"""CSRF tokens for cookie sessions: one random token per session, sent back on every write."""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

from webapi.errors import HttpError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def new_csrf_token() -> str:
    """A random CSRF token to keep in the session."""
    return secrets.token_urlsafe(32)


def session_csrf_token() -> str:
    """The session's CSRF token, created on first use (also for the anonymous login form)."""
    token = session.get("csrf_token")
    if not token:
        token = new_csrf_token()
        session["csrf_token"] = token
    return str(token)


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time token comparison that is False when either side is missing."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_csrf() -> None:
    """403 for a write by a cookie session that does not send back the session's token."""
    # The header for API calls, the hidden form field for admin pages.
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
    if request.method in UNSAFE_METHODS and not tokens_match(given, session.get("csrf_token")):
        raise HttpError(
            403, "Missing or wrong X-CSRF-Token header for a cookie session.", "csrf_failed"
        )
