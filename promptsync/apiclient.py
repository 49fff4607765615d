"""ApiClient: one method per /api/v1 route, mapping transport failures and error bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from promptsync.config import normalize_server
from promptsync.errors import ApiError, ConfigError, ServerUnreachable

__all__ = ["ApiClient", "USER_AGENT"]

USER_AGENT = "promptsync-python/0.1"
API_PREFIX = "/api/v1"
BATCH_MAX_ITEMS = 500
BATCH_MAX_BYTES = 4 * 1024 * 1024
MANIFEST_PAGE = 1000
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Codes for error answers that carry no promptsync JSON body (a proxy's HTML page, say).
_FALLBACK_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reason(exc: httpx.HTTPError) -> str:
    """A short human reason for a transport failure."""
    if isinstance(exc, httpx.TimeoutException):
        return "connection timed out" if isinstance(exc, httpx.ConnectTimeout) else "timed out"
    text = str(exc)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if (
        "name or service not known" in low
        or "nodename nor servname" in low
        or "name resolution" in low
    ):
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
    return ApiError(status, _FALLBACK_CODES.get(status, "http_error"), detail, body)


def _json(response: httpx.Response) -> dict[str, Any]:
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


def _batch_chunks(encoded: list[bytes]) -> Iterator[list[int]]:
    """Group item indexes so each request holds ≤500 items and its body stays ≤4 MiB."""
    overhead = len(b'{"prompts":[]}')
    chunk: list[int] = []
    size = overhead
    for index, item in enumerate(encoded):
        extra = len(item) + (1 if chunk else 0)  # the comma between items
        if chunk and (len(chunk) >= BATCH_MAX_ITEMS or size + extra > BATCH_MAX_BYTES):
            yield chunk
            chunk, size, extra = [], overhead, len(item)
        # An item too big on its own is still sent alone: the server's 413 says why.
        chunk.append(index)
        size += extra
    if chunk:
        yield chunk


class ApiClient:
    """Thin typed wrapper over the /api/v1 routes; ``project=None`` uses the key-scoped routes."""

    def __init__(
        self,
        server: str,
        api_key: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.server = normalize_server(server)
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
            transport=transport,
            follow_redirects=False,  # the API never redirects; a redirect means a wrong URL
        )

    # --- plumbing ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; map transport failures and error answers to our exceptions."""
        send_headers = dict(headers or {})
        if method in _WRITE_METHODS and self.csrf_token:
            send_headers["X-CSRF-Token"] = self.csrf_token
        if body is not None:
            content = _dumps(body)
        if content is not None:
            send_headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in (1, 2):
            try:
                response = self._http.request(
                    method, path, params=query, content=content, headers=send_headers
                )
            except httpx.RemoteProtocolError as exc:
                # A keep-alive connection the server closed while idle fails on reuse; a read
                # is safe to retry once, a write may have been applied and is not.
                if method == "GET" and attempt == 1:
                    continue
                raise ServerUnreachable(f"cannot reach {self.server}: {_reason(exc)}") from exc
            except httpx.InvalidURL as exc:
                raise ConfigError(f"invalid server URL {self.server}: {exc}") from exc
            except httpx.HTTPError as exc:
                raise ServerUnreachable(f"cannot reach {self.server}: {_reason(exc)}") from exc
            break
        if response.status_code < 300 or response.status_code == 304:
            return response
        raise _api_error(response)

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return _json(self._send("GET", path, params=params))

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
            data = _json(response)
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

    @staticmethod
    def _prompts(project: str | None) -> str:
        return "/prompts" if project is None else f"/projects/{_segment(project)}/prompts"

    def _prompt(self, project: str | None, slug: str) -> str:
        # Slugs keep their "/" unescaped, as the routes expect.
        return f"{self._prompts(project)}/{quote(slug, safe='/')}"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- accounts, projects, keys --------------------------------------------------------

    def signup(self, email: str, password: str) -> dict[str, Any]:
        """Create a user; returns ``{"user": {...}}``."""
        return _json(
            self._send("POST", "/auth/signup", body={"email": email, "password": password})
        )

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Sign in; keeps the session cookie and sends the CSRF token on later writes."""
        response = self._send("POST", "/auth/login", body={"email": email, "password": password})
        data = _json(response)
        if response.url.scheme == "http" and any(
            "secure" in (attr.strip().lower() for attr in cookie.split(";")[1:])
            for cookie in response.headers.get_list("Set-Cookie")
        ):
            # The cookie jar rightly never sends a Secure cookie over http, so every later call
            # would fail with a puzzling 401; say what is wrong instead.
            raise ConfigError(
                f"{self.server} sets its session cookie for HTTPS only but is reached over "
                "http://: use https://, or set SESSION_COOKIE_SECURE=0 (or "
                "PROMPTSYNC_ENV=development) on the server"
            )
        token = data.get("csrf_token")
        self.csrf_token = token if isinstance(token, str) else None
        return data

    def logout(self) -> None:
        """End the session (every copy of it, server-side)."""
        self._send("POST", "/auth/logout")
        self.csrf_token = None
        self._http.cookies.clear()

    def me(self) -> dict[str, Any]:
        """The caller: ``{"user", "key", "projects"}``."""
        return self._get_json("/me")

    def create_project(self, slug: str, name: str) -> dict[str, Any]:
        """Create a project; the signed-in user becomes its admin."""
        return _json(self._send("POST", "/projects", body={"slug": slug, "name": name}))

    def projects(self) -> list[dict[str, Any]]:
        """Projects the caller belongs to, with roles."""
        return self._collect("/projects", "projects")

    def create_key(self, project: str, name: str, role: str) -> dict[str, Any]:
        """Create an API key; the plaintext ``key`` is in this answer only."""
        path = f"/projects/{_segment(project)}/keys"
        return _json(self._send("POST", path, body={"name": name, "role": role}))

    def keys(self, project: str) -> list[dict[str, Any]]:
        """The project's API keys (no secrets)."""
        return self._collect(f"/projects/{_segment(project)}/keys", "keys")

    def delete_key(self, project: str, key_id: str | int) -> None:
        """Revoke an API key."""
        self._send("DELETE", f"/projects/{_segment(project)}/keys/{_segment(key_id)}")

    def events(self, project: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` audit events, newest first."""
        params = {"limit": min(limit, 100)}
        path = f"/projects/{_segment(project)}/events"
        return self._collect(path, "events", params, limit=limit)

    # --- prompts -------------------------------------------------------------------------

    def manifest(self, project: str | None, include_source: bool = False) -> list[dict[str, Any]]:
        """Every prompt's slug, latest version, sha256, labels and updated_at (all pages)."""
        params: dict[str, Any] = {"limit": MANIFEST_PAGE}
        if include_source:
            params["include"] = "source"
        return self._collect(self._prompts(project), "prompts", params)

    def get_version(
        self,
        project: str | None,
        slug: str,
        version: int | None = None,
        label: str | None = None,
        etag: str | None = None,
    ) -> dict[str, Any] | None:
        """One version (default: latest); None when ``etag`` still matches (304)."""
        if version is not None and label is not None:
            raise ValueError("pass version or label, not both")
        headers = {}
        if etag:
            quoted = etag if etag.startswith(('"', "W/")) else f'"{etag}"'
            headers["If-None-Match"] = quoted
        response = self._send(
            "GET",
            self._prompt(project, slug),
            params={"version": version, "label": label},
            headers=headers,
        )
        return None if response.status_code == 304 else _json(response)

    def push(
        self,
        project: str | None,
        slug: str,
        source: str | bytes,
        message: str | None = None,
        parent_version: int | None = None,
        git: Mapping[str, Any] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Upload a source: (201, new version) or (200, latest version when nothing changed)."""
        if isinstance(source, bytes):
            source = source.decode("utf-8")
        body: dict[str, Any] = {"source": source}
        if message is not None:
            body["message"] = message
        if parent_version is not None:
            body["parent_version"] = parent_version
        if git is not None:
            body["git"] = dict(git)
        response = self._send("POST", self._prompt(project, slug), body=body)
        return response.status_code, _json(response)

    def push_batch(
        self, project: str | None, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Push many ``{slug, source, ...}`` items in as few requests as limits allow; in order."""
        encoded = [_dumps(dict(item)) for item in items]
        results: list[dict[str, Any]] = []
        for chunk in _batch_chunks(encoded):
            content = b'{"prompts":[' + b",".join(encoded[i] for i in chunk) + b"]}"
            response = self._send("POST", self._prompts(project), content=content)
            got = _json(response).get("results")
            if not isinstance(got, list) or len(got) != len(chunk):
                raise ApiError(
                    response.status_code,
                    "bad_response",
                    f"batch push: expected {len(chunk)} results from {response.url}",
                )
            results.extend(got)
        return results

    def versions(self, project: str | None, slug: str) -> list[dict[str, Any]]:
        """Every version of a prompt, newest first."""
        return self._collect(f"{self._prompt(project, slug)}/-/versions", "versions")

    def diff(
        self,
        project: str | None,
        slug: str,
        from_: int | str | None = None,
        to: int | str | None = None,
    ) -> dict[str, Any]:
        """``{"from", "to", "diff"}`` between two refs (default: previous and latest)."""
        path = f"{self._prompt(project, slug)}/-/diff"
        return self._get_json(path, {"from": from_, "to": to})

    def set_label(
        self,
        project: str | None,
        slug: str,
        label: str,
        version: int,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Point ``label`` at ``version``; 409 when it no longer points at ``expected_version``."""
        body: dict[str, Any] = {"version": version}
        if expected_version is not None:
            body["expected_version"] = expected_version
        path = f"{self._prompt(project, slug)}/-/labels/{_segment(label)}"
        return _json(self._send("PUT", path, body=body))

    def delete_label(
        self,
        project: str | None,
        slug: str,
        label: str,
        expected_version: int | None = None,
    ) -> None:
        """Remove ``label`` from the prompt."""
        path = f"{self._prompt(project, slug)}/-/labels/{_segment(label)}"
        self._send("DELETE", path, params={"expected_version": expected_version})

    def render(
        self,
        project: str | None,
        slug: str,
        variables: Mapping[str, Any],
        version: int | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        """Render on the server: ``{"text"}`` or ``{"messages"}``."""
        body: dict[str, Any] = {"variables": dict(variables)}
        if version is not None:
            body["version"] = version
        if label is not None:
            body["label"] = label
        return _json(self._send("POST", f"{self._prompt(project, slug)}/-/render", body=body))
