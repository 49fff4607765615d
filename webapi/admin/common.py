"""The admin blueprint and what every admin page shares: login gate, CSRF, flashes, helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup

from promptsync.format.templates import segments
from webapi.auth.caller import current_principal
from webapi.auth.csrf import session_csrf_token, tokens_match
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK

STATIC = Path(__file__).resolve().parent.parent / "static" / "admin"
bp = Blueprint("admin", __name__, static_folder=str(STATIC), static_url_path="/static")

# Pages anyone may open; everything else under /admin needs a signed-in user.
PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.signup", "admin.static"})
# Form fields whose routes report a NUL themselves, keeping what the user typed: the prompt
# forms' text, and the key and project names and the webhook URL, which their services check
# (webapi/characters.py).
FREE_TEXT = frozenset({"source", "message", "name", "url"})


def check_anonymous_csrf() -> None:
    """Refuse a login or signup form that does not carry this session's token."""
    if not tokens_match(request.form.get("csrf_token"), session.get("csrf_token")):
        raise HttpError(400, "The form expired or was not sent from this site; reload and retry.")


def safe_next(target: str | None) -> str:
    """A local /admin path to go to after login; anything else falls back to the project list."""
    default = url_for("admin.projects")
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/admin") or target.startswith("//"):
        return default
    return target


def reject_nul() -> None:
    """400 for a NUL in the path, a query argument or a form field: Postgres refuses NUL in
    text (a 500 there) while SQLite stores it. The prompt forms check their own free text, to
    show the error beside the kept text (the parser names the source's line and column)."""
    fields = [*request.args.items(multi=True)]
    if request.method == "POST":
        fields += [(k, v) for k, v in request.form.items(multi=True) if k not in FREE_TEXT]
    if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in fields):
        raise HttpError(400, "The form or link contains a NUL character, which no field "
                             "accepts; remove it and try again.")


@bp.before_request
def require_login() -> Response | None:
    """Redirect anonymous visitors to the login page; admin pages never take API keys."""
    reject_nul()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.headers.get("X-API-Key") or request.headers.get("Authorization"):
        raise HttpError(403, "The admin pages need a login, not an API key.")
    if not current_user.is_authenticated:
        nxt = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("admin.login", next=nxt))  # type: ignore[return-value]
    # Resolves the caller and, for POST, checks the CSRF field (403 when missing or wrong).
    current_principal()
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    """Admin pages show secrets and per-user data: keep them out of shared and back caches."""
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def template_helpers() -> dict[str, Any]:
    """Helpers every admin template (and the error page) can use."""
    return {"csrf_token": session_csrf_token, "when": when, "role_at_least": role_at_least,
            "template_pieces": template_pieces, "who": who}


def who(text: str | None) -> Markup:
    """An actor ("ann@example.com (key psk_…)") for a table cell that wraps anywhere: the email
    on one line, cut with an ellipsis if the cell is narrower (whole in its title), never
    broken mid-word; the rest wraps as text does."""
    email, space, rest = (text or "").partition(" ")
    return Markup('<span class="who-text" title="%s">%s</span>%s%s') % (email, email, space, rest)


def template_pieces(text: str | None) -> list[tuple[str, str | None]]:
    """A template as it renders, for the prompt page: literal text (a \\{{ escape shown as the
    "{{" it renders) and placeholders as written, by the same rule as render."""
    return list(segments(text or ""))


def when(value: dt.datetime | None) -> str:
    """A stored naive-UTC time as 'YYYY-MM-DD HH:MM UTC'."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def role_at_least(role: str | None, minimum: str) -> bool:
    """True when role is at least minimum (for showing or hiding controls)."""
    return role is not None and ROLE_RANK.get(role, -1) >= ROLE_RANK[minimum]


def flash_error(exc: HttpError) -> None:
    """Show a refused action as a message on the next page, after undoing any half-write."""
    db.session.rollback()
    flash(exc.detail, "error")


def form_int(name: str) -> int:
    """A required non-negative integer form field, or a 400 page."""
    raw = request.form.get(name, "").strip()
    if not raw.isdigit() or len(raw) > 9:
        abort(400, f"'{name}' must be a whole number.")
    return int(raw)
