"""Tests for promptsync.client and promptsync.bundle: HTTP mapping, SDK cache, bundles."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import promptsync
from promptsync.bundle import BUNDLE_FORMAT, load_bundle, write_bundle
from promptsync.client import ApiClient, Client, PromptVersion
from promptsync.errors import (
    ApiError,
    BundleError,
    ConfigError,
    PromptFileError,
    RenderError,
    ServerUnreachable,
)
from promptsync.prompts import source_sha256

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

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may see the real environment, credentials or a promptsync.yaml up the tree."""
    for name in ("SERVER", "PROJECT", "API_KEY", "BUNDLE"):
        monkeypatch.delenv(f"PROMPTSYNC_{name}", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def api(handler: Handler, api_key: str | None = "psk_test") -> ApiClient:
    return ApiClient(SERVER, api_key, transport=httpx.MockTransport(handler))


def error(status: int, code: str, detail: str = "nope", **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "detail": detail, **extra})


def version_json(slug: str, version: int, source: str, labels: list[str] | None = None) -> dict:
    return {
        "slug": slug,
        "version": version,
        "sha256": source_sha256(source),
        "labels": labels or [],
        "source": source,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- ApiClient: transport and error mapping -------------------------------------------------


def test_paths_headers_and_quoting() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=version_json("support/greeting", 1, GREETING_V1))

    with api(handler) as client:
        client.get_version("demo", "support/greeting", version=3)
        client.get_version(None, "support/greeting", label="prod uction")
        client.set_label("demo", "a/b", "x/y", 2)
    assert seen[0].url.raw_path == b"/api/v1/projects/demo/prompts/support/greeting?version=3"
    assert seen[1].url.raw_path == b"/api/v1/prompts/support/greeting?label=prod+uction"
    assert seen[2].url.raw_path == b"/api/v1/projects/demo/prompts/a/b/-/labels/x%2Fy"
    assert json.loads(seen[2].content) == {"version": 2}
    assert seen[0].headers["X-API-Key"] == "psk_test"
    assert seen[0].headers["User-Agent"].startswith("promptsync")
    assert "X-CSRF-Token" not in seen[2].headers


def test_server_with_api_prefix_or_trailing_slash() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, json={"user": None, "key": None, "projects": []})

    for server in ("http://ps.test/", "http://ps.test/api/v1", "http://ps.test/base/"):
        ApiClient(server, transport=httpx.MockTransport(handler)).me()
    assert urls == [
        "http://ps.test/api/v1/me",
        "http://ps.test/api/v1/me",
        "http://ps.test/base/api/v1/me",
    ]


def test_bad_server_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        ApiClient("localhost:5000")


def test_connection_refused_is_server_unreachable() -> None:
    server = f"http://127.0.0.1:{free_port()}"
    with ApiClient(server, timeout=2) as client, pytest.raises(ServerUnreachable) as info:
        client.me()
    assert str(info.value) == f"cannot reach {server}: connection refused"


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectTimeout("slow"), "connection timed out"),
        (httpx.ReadTimeout("slow"), "timed out"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "unknown host"),
        (httpx.ReadError("reset by peer"), "reset by peer"),
    ],
)
def test_transport_errors_are_server_unreachable(exc: Exception, reason: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(ServerUnreachable, match=f"^cannot reach {SERVER}: {reason}$"):
        api(handler).manifest("demo")


def test_get_retried_once_after_a_dropped_keep_alive_but_writes_are_not() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) in (1, 3):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"prompts": [], "next": None})

    client = api(handler)
    assert client.manifest("demo") == []
    with pytest.raises(ServerUnreachable, match="closed the connection"):
        client.push("demo", "a", GREETING_V1)
    assert calls == ["GET", "GET", "POST"]


def test_error_body_is_kept_on_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return error(409, "conflict", "v3 is not the latest", latest_version=4)
        return error(422, "invalid_prompt", "bad", problems=[{"message": "x", "line": 2}])

    client = api(handler)
    with pytest.raises(ApiError) as info:
        client.push("demo", "a", GREETING_V1, parent_version=3)
    assert (info.value.status, info.value.code, info.value.detail) == (
        409,
        "conflict",
        "v3 is not the latest",
    )
    assert info.value.body["latest_version"] == 4
    assert str(info.value) == "v3 is not the latest (409 conflict)"
    with pytest.raises(ApiError) as info:
        client.get_version("demo", "a")
    assert info.value.body["problems"] == [{"message": "x", "line": 2}]


def test_non_json_error_from_a_proxy() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            502, text="<html><h1>502 Bad Gateway</h1></html>", headers={"Content-Type": "text/html"}
        )

    with pytest.raises(ApiError) as info:
        api(handler).me()
    assert (info.value.status, info.value.code, info.value.body) == (502, "bad_gateway", {})
    assert "without a promptsync error body" in info.value.detail
    assert "<html>" not in str(info.value)


def test_retry_after_is_exposed_on_429() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"error": "rate_limited", "detail": "slow down"}, headers={"Retry-After": "7"}
        )

    with pytest.raises(ApiError) as info:
        api(handler).login("a@b.c", "pw")
    assert info.value.body["retry_after"] == 7


def test_redirect_is_an_error_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://ps.test/login"})

    with pytest.raises(ApiError, match="redirected .* to https://ps.test/login") as info:
        api(handler).me()
    assert info.value.code == "redirect"


def test_success_that_is_not_json_is_a_bad_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>captive portal</html>")

    with pytest.raises(ApiError) as info:
        api(handler).me()
    assert info.value.code == "bad_response"


def test_api_error_pickles_with_its_body() -> None:
    import pickle

    err = ApiError(409, "conflict", "stale", {"latest_version": 2})
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.status, copy.code, copy.detail, copy.body) == (409, "conflict", "stale", err.body)


# --- ApiClient: endpoints ---------------------------------------------------------------------


def test_login_keeps_cookie_and_sends_csrf_on_writes() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/auth/login":
            return httpx.Response(
                200,
                json={"user": {"email": "a@b.c"}, "csrf_token": "tok"},
                headers={"Set-Cookie": "promptsync_session=s1; Path=/; HttpOnly"},
            )
        if request.url.path == "/api/v1/projects" and request.method == "POST":
            return httpx.Response(201, json={"slug": "demo", "name": "Demo", "role": "admin"})
        if request.url.path.endswith("/keys"):
            return httpx.Response(201, json={"id": 1, "key": "psk_x_y", "role": "editor"})
        if request.url.path == "/api/v1/auth/logout":
            return httpx.Response(204)
        return httpx.Response(200, json={"projects": [{"slug": "demo"}]})

    client = api(handler, api_key=None)
    assert client.login("a@b.c", "pw")["csrf_token"] == "tok"
    assert client.create_project("demo", "Demo")["role"] == "admin"
    assert client.create_key("demo", "laptop", "editor")["key"] == "psk_x_y"
    assert client.projects() == [{"slug": "demo"}]
    client.logout()
    login, create, key, listing, logout = seen
    assert json.loads(login.content) == {"email": "a@b.c", "password": "pw"}
    assert "X-API-Key" not in login.headers
    for request in (create, key, listing, logout):
        assert request.headers["Cookie"] == "promptsync_session=s1"
    assert create.headers["X-CSRF-Token"] == key.headers["X-CSRF-Token"] == "tok"
    assert "X-CSRF-Token" not in listing.headers
    assert json.loads(key.content) == {"name": "laptop", "role": "editor"}
    assert client.csrf_token is None


def test_manifest_follows_cursors() -> None:
    queries: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        queries.append(params)
        if "cursor" not in params:
            return httpx.Response(200, json={"prompts": [{"slug": "a"}], "next": "c1"})
        if params["cursor"] == "c1":
            return httpx.Response(200, json={"prompts": [{"slug": "b"}], "next": "c2"})
        return httpx.Response(200, json={"prompts": [{"slug": "c"}], "next": None})

    assert [p["slug"] for p in api(handler).manifest("demo", include_source=True)] == [
        "a",
        "b",
        "c",
    ]
    assert queries == [
        {"limit": "1000", "include": "source"},
        {"limit": "1000", "include": "source", "cursor": "c1"},
        {"limit": "1000", "include": "source", "cursor": "c2"},
    ]


def test_repeating_cursor_does_not_loop_forever() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"versions": [{"version": 1}], "next": "same"})

    with pytest.raises(ApiError, match="cursor repeats"):
        api(handler).versions("demo", "a")


def test_events_stop_at_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor", "0"))
        page = [{"id": start + i} for i in range(int(request.url.params["limit"]))]
        return httpx.Response(200, json={"events": page, "next": str(start + len(page))})

    events = api(handler).events("demo", limit=150)
    assert [e["id"] for e in events] == list(range(150))


def test_push_body_and_status() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        status = 201 if len(bodies) == 1 else 200
        return httpx.Response(status, json=version_json("a", 1, GREETING_V1))

    client = api(handler)
    git = {"commit": "abc", "branch": "main", "dirty": False, "path": "prompts/a.yaml"}
    status, body = client.push("demo", "a", GREETING_V1, "first", 0, git)
    assert (status, body["version"]) == (201, 1)
    status, _ = client.push("demo", "a", GREETING_V1.encode())
    assert status == 200
    assert bodies == [
        {"source": GREETING_V1, "message": "first", "parent_version": 0, "git": git},
        {"source": GREETING_V1},
    ]


def test_push_batch_chunks_by_count_and_size_and_keeps_order() -> None:
    requests: list[list[dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert len(request.content) <= 4 * 1024 * 1024
        items = json.loads(request.content)["prompts"]
        requests.append(items)
        return httpx.Response(
            200, json={"results": [{"slug": i["slug"], "status": "created"} for i in items]}
        )

    client = api(handler)
    items = [{"slug": f"p{i:04d}", "source": "template: x\n"} for i in range(1201)]
    results = client.push_batch("demo", items)
    assert [len(r) for r in requests] == [500, 500, 201]
    assert [r["slug"] for r in results] == [i["slug"] for i in items]

    requests.clear()
    big = "template: " + "x" * (900 * 1024) + "\n"  # five of these pass 4 MiB
    items = [{"slug": f"big{i}", "source": big} for i in range(10)]
    results = client.push_batch("demo", items)
    assert [len(r) for r in requests] == [4, 4, 2]
    assert [r["slug"] for r in results] == [f"big{i}" for i in range(10)]
    assert client.push_batch("demo", []) == []


def test_push_batch_result_count_mismatch_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"results": []})

    with pytest.raises(ApiError, match="expected 1 results"):
        api(handler).push_batch("demo", [{"slug": "a", "source": "template: x\n"}])


def test_get_version_etag_and_304() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304)

    client = api(handler)
    assert client.get_version("demo", "a", etag="abc") is None
    assert client.get_version("demo", "a", etag='"abc"') is None
    assert [r.headers["If-None-Match"] for r in seen] == ['"abc"', '"abc"']
    with pytest.raises(ValueError):
        client.get_version("demo", "a", version=1, label="prod")


def test_diff_render_delete_label_and_versions() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path.endswith("/-/diff"):
            return httpx.Response(200, json={"from": 1, "to": 2, "diff": "--- a\n+++ b\n"})
        if path.endswith("/-/render"):
            return httpx.Response(200, json={"text": "Hi"})
        if path.endswith("/-/versions"):
            return httpx.Response(200, json={"versions": [{"version": 2}, {"version": 1}]})
        return httpx.Response(204)

    client = api(handler)
    assert client.diff("demo", "a/b", from_=1, to="production")["to"] == 2
    assert client.render("demo", "a/b", {"name": "Ann"}, label="production") == {"text": "Hi"}
    client.delete_label("demo", "a/b", "staging", expected_version=3)
    assert [v["version"] for v in client.versions(None, "a/b")] == [2, 1]
    diff, render, delete, versions = seen
    assert dict(diff.url.params) == {"from": "1", "to": "production"}
    assert json.loads(render.content) == {"variables": {"name": "Ann"}, "label": "production"}
    assert (delete.method, delete.url.raw_path) == (
        "DELETE",
        b"/api/v1/projects/demo/prompts/a/b/-/labels/staging?expected_version=3",
    )
    assert versions.url.path == "/api/v1/prompts/a/b/-/versions"


# --- the SDK ----------------------------------------------------------------------------------


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
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> FakeServer:
    fake = FakeServer()
    fake.add("support/greeting", GREETING_V1)
    fake.labels[("support/greeting", "production")] = 1
    return fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sdk(server: FakeServer, clock: FakeClock, **kw: Any) -> Client:
    kw.setdefault("project", "demo")
    return Client(
        SERVER,
        api_key="psk_test",
        transport=httpx.MockTransport(server.handler),
        ttl=30,
        clock=clock,
        **kw,
    )


def test_client_is_exported_from_the_package() -> None:
    assert promptsync.Client is Client
    assert "Client" in promptsync.__all__
    with pytest.raises(AttributeError):
        promptsync.Nope  # noqa: B018


def test_get_latest_renders_and_is_cached_within_ttl(server: FakeServer, clock: FakeClock) -> None:
    client = sdk(server, clock)
    prompt = client.get("support/greeting")
    assert isinstance(prompt, PromptVersion)
    assert (prompt.slug, prompt.version, prompt.labels) == ("support/greeting", 1, ("production",))
    assert prompt.sha256 == source_sha256(GREETING_V1) and prompt.source == GREETING_V1
    assert prompt.render(topic="billing") == "Hello there, about billing."
    assert prompt.render({"name": "Ann"}, topic="tax") == "Hello Ann, about tax."
    clock.now += 29
    assert client.get("support/greeting") is prompt
    assert len(server.requests) == 1


def test_rendering_is_strict(server: FakeServer, clock: FakeClock) -> None:
    prompt = sdk(server, clock).get("support/greeting")
    with pytest.raises(RenderError) as info:
        prompt.render(name="Ann", color="red")
    assert (info.value.missing, info.value.unknown) == (["topic"], ["color"])


def test_chat_prompt_renders_messages(server: FakeServer, clock: FakeClock) -> None:
    server.add("chat", CHAT)
    assert sdk(server, clock).get("chat").render(question="Why?") == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Why?"},
    ]


def test_latest_revalidates_with_etag_after_ttl(server: FakeServer, clock: FakeClock) -> None:
    client = sdk(server, clock)
    first = client.get("support/greeting")
    clock.now += 31
    assert client.get("support/greeting") is first  # 304: the same object back
    revalidation = server.requests[-1]
    assert revalidation.headers["If-None-Match"] == f'"{first.sha256}"'
    server.add("support/greeting", GREETING_V2)
    clock.now += 10
    assert client.get("support/greeting") is first  # still fresh after the 304
    clock.now += 31
    second = client.get("support/greeting")
    assert (second.version, second.render(topic="x")) == (2, "Hi there, about x.")
    assert len(server.requests) == 3


def test_label_is_cached_apart_from_latest(server: FakeServer, clock: FakeClock) -> None:
    server.add("support/greeting", GREETING_V2)
    client = sdk(server, clock)
    assert client.get("support/greeting", label="production").version == 1
    assert client.get("support/greeting").version == 2
    server.labels[("support/greeting", "production")] = 2
    clock.now += 31
    assert client.get("support/greeting", label="production").version == 2


def test_versions_by_number_are_cached_for_good(server: FakeServer, clock: FakeClock) -> None:
    client = sdk(server, clock)
    v1 = client.get("support/greeting", version=1)
    clock.now += 10_000
    server.down = 0
    assert client.get("support/greeting", version=1) is v1
    assert len(server.requests) == 1
    with pytest.raises(ValueError):
        client.get("support/greeting", version=1, label="production")


def test_a_fetched_latest_also_serves_its_version_number(
    server: FakeServer, clock: FakeClock
) -> None:
    client = sdk(server, clock)
    latest = client.get("support/greeting")
    assert client.get("support/greeting", version=1) is latest
    assert len(server.requests) == 1


@pytest.mark.parametrize("down", [0, 500, 502, 503, 429])
def test_outage_serves_the_last_good_copy(
    server: FakeServer, clock: FakeClock, down: int, caplog: pytest.LogCaptureFixture
) -> None:
    client = sdk(server, clock)
    good = client.get("support/greeting", label="production")
    server.down = down
    clock.now += 31
    assert client.get("support/greeting", label="production") is good
    assert "serving cached support/greeting v1" in caplog.text
    # Backed off for one TTL: no request per call while the server is down.
    calls = len(server.requests)
    clock.now += 5
    client.get("support/greeting", label="production")
    assert len(server.requests) == calls
    # Back up: the next revalidation sees the new state.
    server.down = None
    server.add("support/greeting", GREETING_V2)
    server.labels[("support/greeting", "production")] = 2
    clock.now += 31
    assert client.get("support/greeting", label="production").version == 2


def test_outage_without_copy_or_bundle_raises(server: FakeServer, clock: FakeClock) -> None:
    server.down = 0
    with pytest.raises(ServerUnreachable, match="connection refused"):
        sdk(server, clock).get("support/greeting")
    server.down = 503
    with pytest.raises(ApiError) as info:
        sdk(server, clock).get("support/greeting", version=1)
    assert info.value.status == 503


def test_client_errors_are_never_hidden_by_the_cache(server: FakeServer, clock: FakeClock) -> None:
    client = sdk(server, clock)
    client.get("support/greeting", label="production")
    del server.labels[("support/greeting", "production")]
    clock.now += 31
    with pytest.raises(ApiError) as info:
        client.get("support/greeting", label="production")
    assert info.value.status == 404


def test_key_scoped_routes_without_project(server: FakeServer, clock: FakeClock) -> None:
    client = sdk(server, clock, project=None)
    assert client.project is None
    client.get("support/greeting")
    assert server.requests[0].url.path == "/api/v1/prompts/support/greeting"
    assert server.requests[0].headers["X-API-Key"] == "psk_test"


def test_settings_from_env_and_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer
) -> None:
    (tmp_path / "promptsync.yaml").write_text("server: http://from-yaml\nproject: demo\n")
    monkeypatch.setenv("PROMPTSYNC_API_KEY", "psk_env")
    client = Client(transport=httpx.MockTransport(server.handler))
    assert (client.server, client.project) == ("http://from-yaml", "demo")
    client.get("support/greeting")
    request = server.requests[0]
    assert str(request.url).startswith("http://from-yaml/api/v1/projects/demo/prompts/")
    assert request.headers["X-API-Key"] == "psk_env"
    monkeypatch.setenv("PROMPTSYNC_SERVER", "http://from-env")
    assert Client().server == "http://from-env"
    assert Client("http://arg").server == "http://arg"


def test_no_server_anywhere_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no server configured"):
        Client()


def test_concurrent_gets_share_one_cache(server: FakeServer, clock: FakeClock) -> None:
    client = sdk(server, clock)
    results: list[PromptVersion] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(20):
                results.append(client.get("support/greeting", version=1 if i % 2 else None))
        except BaseException as exc:  # surfaced below; a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 160
    assert {(r.slug, r.version, r.sha256) for r in results} == {
        ("support/greeting", 1, source_sha256(GREETING_V1))
    }
    assert len(server.requests) <= 16  # at most a fetch per thread and kind, then all hits


# --- bundles ----------------------------------------------------------------------------------


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


def test_bundle_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    make_bundle(path)
    data = load_bundle(path)
    assert data["format"] == BUNDLE_FORMAT == "promptsync-bundle/1"
    assert (data["project"], data["label"]) == ("demo", "production")
    assert data["exported_at"].endswith("Z")
    assert data["prompts"]["support/greeting"] == {
        "version": 1,
        "sha256": source_sha256(GREETING_V1),
        "source": GREETING_V1,
        "labels": ["production"],
    }
    assert list(data["prompts"]) == ["chat", "support/greeting"]


def test_write_bundle_accepts_manifest_entries_and_checks_hashes(tmp_path: Path) -> None:
    entry = {
        "slug": "a",
        "version": 2,
        "sha256": source_sha256(CHAT),
        "labels": {"production": 2, "staging": 3},
        "source": CHAT,
        "updated_at": "2025-01-01T00:00:00Z",
    }
    write_bundle(tmp_path / "b.json", "demo", None, [entry])
    assert load_bundle(tmp_path / "b.json")["prompts"]["a"]["labels"] == ["production"]
    with pytest.raises(BundleError, match="does not match its sha256"):
        write_bundle(tmp_path / "c.json", "demo", None, [{**entry, "sha256": "0" * 64}])
    with pytest.raises(BundleError, match="source needed"):
        write_bundle(tmp_path / "c.json", "demo", None, [{"slug": "a", "version": 1}])
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["prompts"]["chat"].update(source=CHAT + "# edited\n"), "does not match"),
        (lambda d: d.update(format="promptsync-bundle/9"), "expected format"),
        (lambda d: d.update(prompts=[]), "'prompts' must be an object"),
        (lambda d: d["prompts"]["chat"].pop("sha256"), "entry 'chat' is malformed"),
    ],
)
def test_tampered_bundle_is_refused(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], Any], message: str
) -> None:
    path = tmp_path / "bundle.json"
    make_bundle(path)
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


def test_unreadable_bundles(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_bytes(b'{"format": "promptsync-bun')
    with pytest.raises(BundleError, match="unreadable"):
        load_bundle(tmp_path / "bad.json")


def test_bundle_is_the_fallback_after_the_cache(
    tmp_path: Path, server: FakeServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bundle.json"
    make_bundle(path)
    server.down = 0
    client = sdk(server, clock, bundle=path)
    prompt = client.get("support/greeting", label="production")
    assert (prompt.version, prompt.render(topic="t")) == (1, "Hello there, about t.")
    assert "from " + str(path) in caplog.text
    messages = client.get("chat", version=3).render(question="q")
    assert isinstance(messages, list) and messages[1]["content"] == "q"
    # Only what the bundle really holds is served from it.
    with pytest.raises(ServerUnreachable):
        client.get("chat", version=2)
    with pytest.raises(ServerUnreachable):
        client.get("support/greeting")  # latest: the bundle holds "production"
    with pytest.raises(ServerUnreachable):
        client.get("unknown", label="production")
    # A 404 from a live server is an answer, never replaced by the bundle.
    server.down = None
    with pytest.raises(ApiError):
        client.get("unknown", label="production")


def test_latest_bundle_serves_latest_and_labels_on_its_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeServer, clock: FakeClock
) -> None:
    path = tmp_path / "latest.json"
    make_bundle(path, label=None)
    monkeypatch.setenv("PROMPTSYNC_BUNDLE", str(path))
    server.down = 503
    client = sdk(server, clock)
    assert client.bundle_path == path
    assert client.get("support/greeting").version == 1
    assert client.get("support/greeting", label="production").version == 1
    with pytest.raises(ApiError):
        client.get("chat", label="production")


def test_broken_or_foreign_bundle_is_a_clear_error(
    tmp_path: Path, server: FakeServer, clock: FakeClock
) -> None:
    path = tmp_path / "bundle.json"
    make_bundle(path)
    data = json.loads(path.read_text())
    data["prompts"]["support/greeting"]["source"] += "\n"
    path.write_text(json.dumps(data))
    server.down = 0
    with pytest.raises(BundleError, match="connection refused; and the fallback bundle .* sha256"):
        sdk(server, clock, bundle=path).get("support/greeting", label="production")
    make_bundle(path, project="other")
    with pytest.raises(BundleError, match="is for project 'other', not 'demo'"):
        sdk(server, clock, bundle=path).get("support/greeting", label="production")


def test_invalid_source_from_the_server_raises(server: FakeServer, clock: FakeClock) -> None:
    server.add("broken", "template: [unclosed\n")
    with pytest.raises(PromptFileError):
        sdk(server, clock).get("broken")


# --- against the real app (httpx's WSGI transport over create_app) ---------------------------


LIVE = "https://ps.test"


class CountingTransport(httpx.BaseTransport):
    """The WSGI transport over the real app, recording each (method, path, status)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.log: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.log.append((request.method, request.url.path, response.status_code))
        return response


@pytest.fixture
def live_app(sqlite_url: str) -> Iterator[Any]:
    """The real Flask app on a fresh migrated SQLite database."""
    from webapi import create_app
    from webapi.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": sqlite_url,
            "BCRYPT_ROUNDS": 4,
            "SECRET_KEY": "test-secret-not-for-production",
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live(live_app: Any) -> Iterator[dict[str, Any]]:
    """A user (signed up and logged in through ApiClient) owning project demo, with keys."""
    transport = httpx.WSGITransport(app=live_app)
    # https: the app's session cookie is Secure outside development, as it should be.
    with ApiClient(LIVE, transport=transport) as session:
        assert session.signup("ann@example.com", "correct horse battery")["user"]["email"]
        assert session.login("ann@example.com", "correct horse battery")["csrf_token"]
        assert session.create_project("demo", "Demo")["role"] == "admin"
        roles = ("viewer", "editor", "admin")
        keys = {role: session.create_key("demo", role, role) for role in roles}
        assert keys["editor"]["key"].startswith(keys["editor"]["prefix"] + "_")
        assert [p["slug"] for p in session.projects()] == ["demo"]
        assert session.me()["user"]["email"] == "ann@example.com"
        yield {"app": live_app, "session": session, "keys": {r: k["key"] for r, k in keys.items()}}


def editor(live: dict[str, Any], role: str = "editor") -> ApiClient:
    return ApiClient(LIVE, live["keys"][role], transport=httpx.WSGITransport(app=live["app"]))


def test_live_push_fetch_label_diff_render(live: dict[str, Any]) -> None:
    with editor(live) as api_client:
        status, v1 = api_client.push("demo", "support/greeting", GREETING_V1, "first", 0)
        assert (status, v1["version"], v1["sha256"]) == (201, 1, source_sha256(GREETING_V1))
        assert v1["source"] == GREETING_V1
        status, same = api_client.push("demo", "support/greeting", GREETING_V1)
        assert (status, same["version"]) == (200, 1)
        status, v2 = api_client.push("demo", "support/greeting", GREETING_V2, parent_version=1)
        assert (status, v2["version"]) == (201, 2)

        with pytest.raises(ApiError) as info:
            api_client.push("demo", "support/greeting", GREETING_V1 + "#\n", parent_version=1)
        assert (info.value.status, info.value.body["latest_version"]) == (409, 2)
        with pytest.raises(ApiError) as info:
            api_client.push("demo", "support/greeting", "template: [oops\n")
        assert (info.value.status, info.value.code) == (422, "invalid_prompt")
        assert info.value.body["problems"][0]["line"] >= 1

        fetched = api_client.get_version("demo", "support/greeting", version=1)
        assert fetched is not None and fetched["source"] == GREETING_V1
        assert api_client.get_version("demo", "support/greeting", etag=v2["sha256"]) is None
        latest = api_client.get_version(None, "support/greeting")  # the key's own project
        assert latest is not None and latest["version"] == 2

        moved = api_client.set_label("demo", "support/greeting", "staging", 1)
        assert (moved["label"], moved["version"]) == ("staging", 1)
        with pytest.raises(ApiError) as info:
            api_client.set_label("demo", "support/greeting", "staging", 2, expected_version=2)
        assert info.value.status == 409
        staged = api_client.get_version("demo", "support/greeting", label="staging")
        assert staged is not None and staged["version"] == 1 and staged["labels"] == ["staging"]

        diff = api_client.diff("demo", "support/greeting", from_=1, to=2)
        assert (diff["from"], diff["to"]) == (1, 2)
        assert '-template: "Hello' in diff["diff"] and '+template: "Hi' in diff["diff"]
        assert [v["version"] for v in api_client.versions("demo", "support/greeting")] == [2, 1]

        assert (
            api_client.render("demo", "support/greeting", {"topic": "x"}, label="staging")["text"]
            == "Hello there, about x."
        )
        with pytest.raises(ApiError) as info:
            api_client.render("demo", "support/greeting", {"color": "red"})
        assert info.value.code == "invalid_variables"
        assert (info.value.body["missing"], info.value.body["unknown"]) == (["topic"], ["color"])

        api_client.delete_label("demo", "support/greeting", "staging")
        with pytest.raises(ApiError) as info:
            api_client.get_version("demo", "support/greeting", label="staging")
        assert (info.value.status, info.value.code) == (404, "not_found")

        manifest = api_client.manifest("demo", include_source=True)
        assert [(m["slug"], m["version"], m["source"]) for m in manifest] == [
            ("support/greeting", 2, GREETING_V2)
        ]
    events = live["session"].events("demo", limit=3)
    assert len(events) == 3


@pytest.mark.slow
def test_live_batch_push_and_paged_manifest(live: dict[str, Any]) -> None:
    items = [{"slug": f"bulk/p{i:04d}", "source": f"template: 'n{i}'\n"} for i in range(1001)]
    items.insert(7, {"slug": "bulk/bad", "source": "template: [\n"})
    with editor(live) as api_client:
        results = api_client.push_batch("demo", items)
        assert [r["slug"] for r in results] == [i["slug"] for i in items]
        assert results[7]["status"] == "invalid"
        assert {r["status"] for i, r in enumerate(results) if i != 7} == {"created"}
        again = api_client.push_batch("demo", items[:3])
        assert [r["status"] for r in again] == ["unchanged"] * 3
        manifest = api_client.manifest("demo")  # 1001 prompts: two pages of 1000
        assert len(manifest) == 1001
        assert manifest == sorted(manifest, key=lambda m: m["slug"])
        assert "source" not in manifest[0]


def test_live_errors_map_to_api_error(live: dict[str, Any]) -> None:
    transport = httpx.WSGITransport(app=live["app"])
    with ApiClient(SERVER, "psk_deadbeef_nope", transport=transport) as bad:
        with pytest.raises(ApiError) as info:
            bad.manifest("demo")
        assert (info.value.status, info.value.code) == (401, "unauthorized")
    with ApiClient(SERVER, live["keys"]["viewer"], transport=transport) as viewer:
        with pytest.raises(ApiError) as info:
            viewer.push("demo", "a", GREETING_V1)
        assert (info.value.status, info.value.code) == (403, "forbidden")
        with pytest.raises(ApiError) as info:
            viewer.get_version("demo", "missing/prompt")
        assert (info.value.status, info.value.code) == (404, "not_found")
    with pytest.raises(ApiError) as info:
        live["session"].signup("ann@example.com", "correct horse battery")
    assert info.value.status == 409


def test_live_sdk_cache_etag_and_fallback(live: dict[str, Any], tmp_path: Path) -> None:
    with editor(live, "admin") as api_client:
        api_client.push("demo", "support/greeting", GREETING_V1)
        api_client.set_label("demo", "support/greeting", "production", 1)
        api_client.push("demo", "chat", CHAT)
        bundle = tmp_path / "bundle.json"
        versions = [
            api_client.get_version("demo", m["slug"], label="production")
            for m in api_client.manifest("demo")
            if "production" in m["labels"]
        ]
        write_bundle(bundle, "demo", "production", [v for v in versions if v])
    transport = CountingTransport(live["app"])
    clock = FakeClock()
    client = Client(
        LIVE,
        api_key=live["keys"]["viewer"],
        transport=transport,
        clock=clock,
        ttl=30,
        bundle=bundle,
    )
    prompt = client.get("support/greeting", label="production")
    assert (prompt.version, prompt.labels) == (1, ("production",))
    assert prompt.render(name="Ann", topic="tax") == "Hello Ann, about tax."
    assert client.get("chat").render(question="q")[0]["role"] == "system"  # type: ignore[index]
    assert client.get("support/greeting", version=1) is prompt
    clock.now += 31
    assert client.get("support/greeting", label="production") is prompt
    assert [status for _, _, status in transport.log] == [200, 200, 304]
    assert transport.log[0][1] == "/api/v1/prompts/support/greeting"  # key-scoped, no project

    # The server disappears: the cache, then the bundle, keep the application running.
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    clock.now += 31
    client._api._http._transport = httpx.MockTransport(refuse)  # swap the seam, keep the cache
    assert client.get("support/greeting", label="production") is prompt
    fresh = Client(LIVE, transport=httpx.MockTransport(refuse), bundle=bundle)
    from_bundle = fresh.get("support/greeting", label="production")
    assert (from_bundle.version, from_bundle.sha256) == (1, prompt.sha256)
    with pytest.raises(ServerUnreachable):
        fresh.get("chat")


def test_live_secure_cookie_over_http_is_a_clear_error(live_app: Any) -> None:
    with ApiClient(SERVER, transport=httpx.WSGITransport(app=live_app)) as session:
        session.signup("bob@example.com", "correct horse battery")
        with pytest.raises(ConfigError, match="HTTPS only but is reached over http://"):
            session.login("bob@example.com", "correct horse battery")
