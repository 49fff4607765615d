"""Webhook signatures (SPEC §12): HMAC-SHA256 of "<timestamp>.<body>" with the webhook's secret,
sent as `X-Promptsync-Signature: sha256=<hex>` beside `X-Promptsync-Timestamp`."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
EVENT_HEADER = "X-Promptsync-Event"
DELIVERY_HEADER = "X-Promptsync-Delivery"
TIMESTAMP_HEADER = "X-Promptsync-Timestamp"
SIGNATURE_HEADER = "X-Promptsync-Signature"


def new_secret() -> str:
    """A fresh signing secret: 256 bits from `secrets`, with a recognisable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>"."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def headers(secret: str, timestamp: int, body: bytes, action: str,
            delivery_id: str) -> dict[str, str]:
    """Every header that identifies and signs one delivery attempt."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "promptsync-webhooks/1",
        EVENT_HEADER: action,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(secret: str, timestamp: str, body: bytes, sent: str, now: float,
           tolerance: float = 300.0) -> bool:
    """A receiver's check: the signature matches and the timestamp is within tolerance."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), sent)
