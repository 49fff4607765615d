"""The HTTP plumbing under ApiClient: one httpx.Client, error mapping, pagination.

``ApiBase`` sends a request (again after a transient failure, as its ``RetryPolicy`` from
``client/retry.py`` allows) and turns every transport failure and error answer into our
exceptions (``ServerUnreachable``, ``ApiError``, ``ConfigError``); ``ApiClient`` in
``client/api.py`` adds one method per /api/v1 route on top. Only modules that talk to the server
import this one: httpx costs ~0.1 s at start-up, which `promptsync --help` and `lint` need not pay.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from promptsync.client.retry import (
    ONCE_ON_STALE_CONNECTION,
    Retrying,
    RetryPolicy,
    retry_after,
    unknown_host,
)
from promptsync.config import normalize_server
from promptsync.errors import ApiError, ConfigError, ServerUnreachable
from promptsync.protocol import ERROR_CODES

__all__ = ["API_PREFIX", "USER_AGENT", "ApiBase", "encode_json", "json_object", "segment"]

USER_AGENT = "promptsync-python/0.1"
API_PREFIX = "/api/v1"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})  # repeated freely; other calls say idempotent=True


def segment(value: str | int) -> str:
    """One path segment, every reserved character (``/`` too) escaped."""
    quoted = quote(str(value), safe="")
    # "." and ".." would be dot segments, which httpx resolves: a label named ".." would
    # address the route above it. Escaped, they stay names (and the server refuses them).
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def encode_json(data: Any) -> bytes:
    """A request body: compact UTF-8 JSON."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reason(exc: httpx.HTTPError) -> str:
    """A short human reason for a transport failure."""
    if isinstance(exc, httpx.TimeoutException):
        return "connection timed out" if isinstance(exc, httpx.ConnectTimeout) else "timed out"
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if unknown_host(text):
        return "unknown host"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection"
    return text or type(exc).__name__


def _api_error(response: httpx.Response) -> ApiError:
    """Build an ApiError from the server's {"error", "detail"} body, or from the bare status."""
    status = response.status_code
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    body: dict[str, Any] = dict(parsed) if isinstance(parsed, dict) else {}
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        body.setdefault("retry_after", int(retry_after))
    code = body.get("error")
    if isinstance(code, str) and code:
        detail = body.get("detail")
        if not isinstance(detail, str) or not detail:
            detail = f"the server answered {status} {response.reason_phrase}"
        return ApiError(status, code, detail, body)
    if 300 <= status < 400:
        target = response.headers.get("Location", "elsewhere")
        detail = f"the server redirected {response.request.url} to {target}; check the server URL"
        return ApiError(status, "redirect", detail, body)
    detail = (
        f"the server answered {status} {response.reason_phrase} for {response.request.url} "
        "without a promptsync error body (a proxy, or not a promptsync server?)"
    )
    return ApiError(status, ERROR_CODES.get(status, "http_error"), detail, body)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or an ApiError saying the server sent something else."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        kind = response.headers.get("Content-Type", "no content type")
        raise ApiError(
            response.status_code,
            "bad_response",
            f"expected a JSON object from {response.request.url}, got {kind}",
        )
    return data


def plain_http_transport(server: str) -> httpx.HTTPTransport | None:
    """For an http:// server, a transport without the CA bundle; None (httpx's own) for https.

    httpx builds its TLS context when the client is made, loading every CA certificate: ~20 ms
    of CPU at each command's start, for a TLS connection an http:// server never makes. The
    context given here trusts no certificate at all, so a request that did reach an https URL
    through it would fail verification, never go unverified.
    """
    if not server.startswith("http://"):
        return None
    return httpx.HTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


class ApiBase:
    """A connection to one server's /api/v1: send, map errors, follow cursors."""

    def __init__(
        self,
        server: str,
        api_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        user_agent: str = USER_AGENT,
        retry: RetryPolicy = ONCE_ON_STALE_CONNECTION,
    ) -> None:
        self.server = normalize_server(server)
        self.retry = retry
        base = self.server if self.server.endswith(API_PREFIX) else self.server + API_PREFIX
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.csrf_token: str | None = None
        # One client for the whole life of the object: keep-alive saves a TCP handshake a call.
        self._http = httpx.Client(
            base_url=base,
            headers=headers,
            timeout=timeout,
            transport=transport or plain_http_transport(self.server),
            follow_redirects=False,  # the API never redirects; a redirect means a wrong URL
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request, again on a transient failure as ``self.retry`` allows (GETs, and
        ``idempotent`` calls); map transport failures and error answers to our exceptions."""
        send_headers = dict(headers or {})
        if method in _WRITE_METHODS and self.csrf_token:
            send_headers["X-CSRF-Token"] = self.csrf_token
        if body is not None:
            content = encode_json(body)
        if content is not None:
            send_headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if idempotent is None:
            idempotent = method in _SAFE_METHODS
        policy, attempt = self.retry, 1
        while True:
            try:
                response = self._http.request(
                    method, path, params=query, content=content, headers=send_headers
                )
            except httpx.InvalidURL as exc:
                raise ConfigError(f"invalid server URL {self.server}: {exc}") from exc
            except httpx.HTTPError as exc:
                reason = _reason(exc)
                wait = policy.delay(attempt) if policy.retries_error(exc, idempotent) else None
                if wait is None:
                    tries = f" after {attempt} attempts" if attempt > 1 else ""
                    raise ServerUnreachable(f"cannot reach {self.server}: {reason}{tries}"
                                            ) from exc
            else:
                status = response.status_code
                if status < 300 or status == 304:
                    return response
                error = _api_error(response)
                error.attempts = attempt
                if not (idempotent and status in policy.statuses):
                    raise error
                wait = policy.delay(attempt, retry_after(response.headers.get("Retry-After")))
                if wait is None:
                    raise error
                reason = f"{status} {error.code}"
            attempt += 1
            policy.on_retry(Retrying(method, path, reason, attempt, policy.attempts, wait))
            policy.sleep(wait)

    def url_and_headers(self, path: str) -> tuple[str, dict[str, str]]:
        """An API path's absolute URL and the headers that authenticate it, for a request sent
        by other means (the event stream's reader, client/live.py)."""
        skip = ("accept", "accept-encoding", "connection")  # the reader sets its own
        headers = {k: v for k, v in self._http.headers.items() if k.lower() not in skip}
        return str(self._http.base_url.join(path.lstrip("/"))), headers

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return json_object(self._send("GET", path, params=params))

    def _collect(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Fetch every page of a collection by following ``next`` cursors."""
        items: list[dict[str, Any]] = []
        query = dict(params or {})
        seen: set[str] = set()
        while True:
            response = self._send("GET", path, params=query)
            data = json_object(response)
            page = data.get(key)
            if not isinstance(page, list):
                raise ApiError(
                    response.status_code, "bad_response", f"no {key!r} list in {response.url}"
                )
            items.extend(page)
            cursor = data.get("next")
            if not cursor or (limit is not None and len(items) >= limit):
                break
            if str(cursor) in seen:  # a server bug must not turn into an endless loop
                raise ApiError(response.status_code, "bad_response", f"{path}: cursor repeats")
            seen.add(str(cursor))
            query["cursor"] = cursor
        return items[:limit] if limit is not None else items

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
