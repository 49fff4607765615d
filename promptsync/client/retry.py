"""When ApiBase sends a request again: which failures, which requests, how long to wait between.

A request is sent again only when that cannot do harm: a connection that was never made (refused,
timed out connecting) for any request, since nothing reached the server; and, for a request that
is safe to repeat (a GET, or a call the client marks idempotent: a push, which the server
recognises by its hash, a label move, a render), a connection lost mid-request or a 502/503/504.
The waits grow 0.25 s, 0.5 s, 1 s; a Retry-After is honoured, and one longer than ``max_delay``
ends the retries (the failure is reported at once rather than after a long silent wait). The
sleep and the notice of each retry are injected: tests pass fakes, the CLI prints the notice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["ONCE_ON_STALE_CONNECTION", "RETRY_STATUSES", "RetryPolicy", "Retrying",
           "retry_after", "unknown_host"]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})
# Failures after which the request may have reached the server: repeated only if it is safe to.
_LOST = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
# Failures before any byte was sent: any request may be sent again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True)
class Retrying:
    """A retry about to happen, for whoever tells the user: what failed and when it is tried."""

    method: str
    path: str
    reason: str  # "connection refused", "503 unavailable", ...
    attempt: int  # the attempt about to be made, from 2
    attempts: int
    delay: float  # seconds until it is made


def _log_retry(notice: Retrying) -> None:
    log.info("%s %s: %s; retrying in %g s (attempt %d of %d)", notice.method, notice.path,
             notice.reason, notice.delay, notice.attempt, notice.attempts)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a request is sent at most, on which failures, and the waits between."""

    attempts: int = 4  # the first and three retries
    base_delay: float = 0.25  # the first wait; each next one doubles
    max_delay: float = 5.0  # no wait is longer; a longer Retry-After ends the retries
    statuses: frozenset[int] = RETRY_STATUSES
    errors: tuple[type[httpx.HTTPError], ...] = _NOT_SENT + _LOST
    sleep: Callable[[float], None] = time.sleep
    on_retry: Callable[[Retrying], None] = _log_retry

    def retries_error(self, exc: httpx.HTTPError, idempotent: bool) -> bool:
        """Whether this transport failure may be followed by another attempt."""
        if not isinstance(exc, self.errors):
            return False
        if isinstance(exc, httpx.ConnectError) and unknown_host(str(exc)):
            return False  # a typo in the URL does not heal in a second
        return idempotent or isinstance(exc, _NOT_SENT)

    def delay(self, failed: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after attempt number ``failed``, or None when no attempt is left."""
        if failed >= self.attempts:
            return None
        wait = self.base_delay * 2 ** (failed - 1)
        if retry_after is not None:
            if retry_after > self.max_delay:
                return None
            wait = max(wait, retry_after)
        return min(wait, self.max_delay)


# ApiBase's default (the SDK's, the library's): one immediate retry of an idempotent request
# whose kept-alive connection the server had closed while idle; no backoff, no statuses.
ONCE_ON_STALE_CONNECTION = RetryPolicy(attempts=2, base_delay=0.0, statuses=frozenset(),
                                       errors=(httpx.RemoteProtocolError,))


def unknown_host(text: str) -> bool:
    """Whether a connection error's text says the host name did not resolve."""
    low = text.lower()
    return any(text in low for text in ("name or service not known", "nodename nor servname",
                                        "name resolution"))


def retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """A Retry-After header's wait in seconds (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now())
