"""Password hashing, API key minting and CSRF tokens: the cryptographic details in one place."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import bcrypt

KEY_PREFIX = "psk_"
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
    if plaintext[cut] != "_" or not all(c in "0123456789abcdef" for c in prefix[len(KEY_PREFIX) :]):
        return None
    return prefix


def key_matches(plaintext: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with the stored hash."""
    return hmac.compare_digest(key_hash(plaintext), stored_hash)


def new_csrf_token() -> str:
    """A random CSRF token to keep in the session."""
    return secrets.token_urlsafe(32)


def tokens_match(given: str | None, expected: str | None) -> bool:
    """Constant-time token comparison that is False when either side is missing."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
