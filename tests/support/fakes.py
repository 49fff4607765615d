"""Shared fakes: prompt sources, an in-memory API, and a clock that moves only when told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from promptsync.client.bundle import write_bundle
from promptsync.format.prompt import source_sha256

SERVER = "http://ps.test"
GREETING_V1 = """\
variables:
  name: {default: there}
  topic: {required: true}
template: "Hello {{ name }}, about {{ topic }}."
"""
GREETING_V2 = GREETING_V1.replace("Hello", "Hi")
CHAT = """\
messages:
  - {role: system, content: "You are terse."}
  - {role: user, content: "{{ question }}"}
"""


def error(status: int, code: str, detail: str = "nope", **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "detail": detail, **extra})


def version_json(
    slug: str, version: int, source: str, labels: list[str] | None = None
) -> dict[str, Any]:
    return {
        "slug": slug,
        "version": version,
        "sha256": source_sha256(source),
        "labels": labels or [],
        "source": source,
    }


class FakeServer:
    """A tiny in-memory API: versions per slug, labels, a switch to go down, a request log."""

    def __init__(self) -> None:
        self.versions: dict[str, list[str]] = {}
        self.labels: dict[tuple[str, str], int] = {}
        self.down: int | None = None  # None: up; 0: connection refused; else an HTTP status
        self.requests: list[httpx.Request] = []

    def add(self, slug: str, source: str) -> None:
        self.versions.setdefault(slug, []).append(source)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down == 0:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        if self.down is not None:
            return error(self.down, "unavailable", "database is down")
        path = request.url.path
        prefix = "/api/v1/projects/demo/prompts/" if "/projects/" in path else "/api/v1/prompts/"
        slug = path.removeprefix(prefix)
        sources = self.versions.get(slug)
        if not sources:
            return error(404, "not_found", f"no prompt {slug}")
        params = request.url.params
        if "version" in params:
            number = int(params["version"])
        elif "label" in params:
            if (slug, params["label"]) not in self.labels:
                return error(404, "not_found", "no such label")
            number = self.labels[(slug, params["label"])]
        else:
            number = len(sources)
        if not 1 <= number <= len(sources):
            return error(404, "not_found", "no such version")
        labels = [name for (s, name), v in self.labels.items() if s == slug and v == number]
        data = version_json(slug, number, sources[number - 1], labels)
        etag = f'"{data["sha256"]}"'
        if request.headers.get("If-None-Match") == etag:
            return httpx.Response(304, headers={"ETag": etag})
        return httpx.Response(200, json=data, headers={"ETag": etag})


class FakeClock:
    """A monotonic clock for ``clock=`` parameters (SDK, Debouncer, WatchDaemon): set ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingTransport(httpx.BaseTransport):
    """The WSGI transport over the real app, recording each (method, path, status)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.log: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.log.append((request.method, request.url.path, response.status_code))
        return response


def make_bundle(path: Path, label: str | None = "production", project: str | None = "demo") -> None:
    write_bundle(
        path,
        project,
        label,
        [
            version_json("support/greeting", 1, GREETING_V1, ["production"]),
            version_json("chat", 3, CHAT, []),
        ],
    )
