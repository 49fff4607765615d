"""Passwords: the rules for a new one, and bcrypt hashing that counts every character."""

from __future__ import annotations

import base64
import hashlib
import secrets

import bcrypt

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _prehash(password: str) -> bytes:
    # bcrypt reads at most 72 bytes (and bcrypt 5 refuses more): hash first, as Django's
    # BCryptSHA256 hasher does, so every character of a long password counts.
    digest = hashlib.sha256(password.encode("utf-8")).digest()
    return base64.b64encode(digest)


def password_problem(password: object) -> str | None:
    """Why a new password is not acceptable, or None."""
    if not isinstance(password, str):
        return "password must be a string"
    if len(password) < MIN_PASSWORD:
        return f"password must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"password must be at most {MAX_PASSWORD} characters"
    return None


def hash_password(password: str, rounds: int) -> str:
    """A bcrypt hash of the SHA-256 of the password."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    """True when the password matches the stored hash."""
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:
        return False


_DUMMY_HASHES: dict[int, str] = {}


def dummy_check(password: str, rounds: int) -> None:
    """Spend the time of a real check, so unknown emails cannot be told apart by timing."""
    if rounds not in _DUMMY_HASHES:
        _DUMMY_HASHES[rounds] = hash_password(secrets.token_hex(16), rounds)
    check_password(password, _DUMMY_HASHES[rounds])
