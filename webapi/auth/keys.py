"""API keys: minting and hashing them, and turning the key a request presents into a Principal.

A key is ``psk_<8 hex>_<secret>``: the first part is stored in the clear and finds the row, the
secret is checked against a SHA-256 hash. A key acts with min(its role, its creator's current
role), so demoting or removing the creator takes effect on the key's next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from flask import current_app, request
from sqlalchemy import bindparam, select, update

from webapi.auth.principal import Principal
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK, ApiKey, Membership, Project, User, utcnow

KEY_PREFIX = "psk_"
MALFORMED_KEY = "The API key is malformed."
INVALID_KEY = "The API key is not valid."


def new_api_key() -> tuple[str, str, str]:
    """A fresh key: (plaintext, prefix used for lookup, SHA-256 of the plaintext)."""
    public_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)  # 256 bits
    prefix = f"{KEY_PREFIX}{public_id}"
    plaintext = f"{prefix}_{secret}"
    return plaintext, prefix, key_hash(plaintext)


def key_hash(plaintext: str) -> str:
    """SHA-256 hex of a key: keys are random, so a slow hash adds nothing but latency."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def split_key(plaintext: str) -> str | None:
    """The lookup prefix of a well-formed key, or None."""
    # The secret is URL-safe base64 and may itself contain "_": split by position.
    cut = len(KEY_PREFIX) + 8
    if not plaintext.startswith(KEY_PREFIX) or not (cut + 1 < len(plaintext) <= 200):
        return None
    prefix = plaintext[:cut]
    # strip() leaves nothing exactly when every character is a hex digit (in C, on every fetch).
    if plaintext[cut] != "_" or prefix[len(KEY_PREFIX) :].strip("0123456789abcdef"):
        return None
    return prefix


def key_prefix(plaintext: str) -> str:
    """The lookup prefix of a presented key, or the 401 for a malformed one."""
    prefix = split_key(plaintext)
    if prefix is None:
        raise HttpError(401, MALFORMED_KEY)
    return prefix


def key_matches(plaintext: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with the stored hash."""
    return hmac.compare_digest(key_hash(plaintext), stored_hash)


def presented_key() -> str | None:
    """The API key the request presents (X-API-Key or Authorization: Bearer), or None."""
    return key_in_environ(request.environ)


def key_in_environ(environ: Mapping[str, Any]) -> str | None:
    """presented_key read from a WSGI environ (the key fetch reads it in front of Flask)."""
    key = environ.get("HTTP_X_API_KEY")
    if key is not None:
        return key.strip()
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


_KEYS = ApiKey.__table__
_MEMBERS = Membership.__table__
# A key with its project and its creator's current membership (NULL once the creator left):
# what check_key needs. The one-statement fetch (webapi.fetch.statements) joins the prompt to it.
KEY_WITH_CREATOR = _KEYS.join(
    Project.__table__, Project.__table__.c.id == _KEYS.c.project_id
).outerjoin(
    _MEMBERS,
    (_MEMBERS.c.project_id == _KEYS.c.project_id) & (_MEMBERS.c.user_id == _KEYS.c.created_by_id),
)
# One Core statement, built once: the key, its project and its creator's current role. Plain
# tuples, no ORM identity map, and SQLAlchemy's compiled cache is hit without rebuilding the
# expression on every request. Nothing about the key is cached between requests, so a revoked
# key or a demoted creator is refused on the very next request.
_KEY_QUERY = (
    select(
        _KEYS.c.id, _KEYS.c.name, _KEYS.c.role, _KEYS.c.secret_hash, _KEYS.c.revoked_at,
        _KEYS.c.last_used_at, _KEYS.c.project_id, _KEYS.c.created_by_id,
        Project.__table__.c.slug, User.__table__.c.email, _MEMBERS.c.role,
    )
    .select_from(
        KEY_WITH_CREATOR.join(User.__table__, User.__table__.c.id == _KEYS.c.created_by_id)
    )
    .where(_KEYS.c.prefix == bindparam("prefix"))
)


def check_key(
    plaintext: str, secret_hash: str, revoked_at: dt.datetime | None, key_role: str,
    creator_role: str | None,
) -> str:
    """The key's effective role, min(key role, creator's current role), or the 401 that says why
    not. Shared by the general path and the one-statement fetch (webapi.fetch.lookup)."""
    # SHA-256 of a 256-bit random key: about a microsecond, so no cache of the check is needed.
    if not key_matches(plaintext, secret_hash):
        raise HttpError(401, INVALID_KEY)
    if revoked_at is not None:
        raise HttpError(401, "The API key has been revoked.")
    if creator_role is None:
        raise HttpError(401, "The API key's creator is no longer a member of its project.")
    return min(key_role, creator_role, key=ROLE_RANK.__getitem__)


def touch_due(last_used_at: dt.datetime | None, seconds: float) -> dt.datetime | None:
    """Now, when the key's last_used_at is older than `seconds` (KEY_TOUCH_SECONDS) and is
    due a write."""
    # Writing on every fetch would turn reads into writes; minute resolution is enough.
    now = utcnow()
    if last_used_at is None or now - last_used_at >= dt.timedelta(seconds=seconds):
        return now
    return None


def principal_from_key(plaintext: str) -> Principal:
    """The caller a presented key stands for, or the 401 that says why it is refused."""
    prefix = key_prefix(plaintext)
    row = db.session.execute(_KEY_QUERY, {"prefix": prefix}).first()
    if row is None:
        raise HttpError(401, INVALID_KEY)
    (key_id, name, key_role, secret_hash, revoked_at, last_used_at, project_id, created_by_id,
     project_slug, email, creator_role) = row
    role = check_key(plaintext, secret_hash, revoked_at, key_role, creator_role)
    now = touch_due(last_used_at, current_app.config["KEY_TOUCH_SECONDS"])
    if now is not None:
        db.session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
        db.session.commit()
    return Principal(
        user_id=created_by_id,
        email=email,
        key_id=key_id,
        key_name=name,
        key_prefix=prefix,
        key_project_id=project_id,
        key_project_slug=project_slug,
        key_role=role,
    )
