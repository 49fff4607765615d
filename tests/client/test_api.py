"""Tests for promptsync.client.api: URLs, error mapping, cursors, batches, and the real app."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from promptsync.client.api import ApiClient
from promptsync.errors import ApiError, ConfigError, ServerUnreachable
from promptsync.format.prompt import source_sha256
from promptsync.protocol import PushOutcome
from tests.support.fakes import GREETING_V1, GREETING_V2, SERVER, error, version_json
from tests.support.live import free_port

Handler = Callable[[httpx.Request], httpx.Response]


def api(handler: Handler, api_key: str | None = "psk_test") -> ApiClient:
    return ApiClient(SERVER, api_key, transport=httpx.MockTransport(handler))


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


def test_dot_segments_stay_names() -> None:
    # httpx resolves "." and ".." path segments: a label or project named so reached another
    # route (DELETE …/greeting/-/labels/.. went to DELETE …/greeting/-).
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with api(handler) as client:
        client.delete_label("demo", "a/b", "..")
        client.delete_label("..", "a/b", ".")
    assert seen[0].url.raw_path == b"/api/v1/projects/demo/prompts/a/b/-/labels/%2E%2E"
    assert seen[1].url.raw_path == b"/api/v1/projects/%2E%2E/prompts/a/b/-/labels/%2E"


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
    # A push is retried too (the server knows a source it stored by its hash); creating a key
    # is not: it may have been made. The whole policy: tests/client/test_retry.py.
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) in (1, 3):
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"prompts": [], "next": None})

    client = api(handler)
    assert client.manifest("demo") == []
    with pytest.raises(ServerUnreachable, match="closed the connection"):
        client.create_key("demo", "ci", "viewer")
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
            200, json={"results": [{"slug": i["slug"], "status": "created", "version": 1}
                                   for i in items]}
        )

    client = api(handler)
    items = [{"slug": f"p{i:04d}", "source": "template: x\n"} for i in range(1201)]
    results = client.push_batch("demo", items)
    assert [len(r) for r in requests] == [500, 500, 201]
    assert [r.slug for r in results] == [i["slug"] for i in items]

    requests.clear()
    big = "template: " + "x" * (900 * 1024) + "\n"  # five of these pass 4 MiB
    items = [{"slug": f"big{i}", "source": big} for i in range(10)]
    results = client.push_batch("demo", items)
    assert [len(r) for r in requests] == [4, 4, 2]
    assert [r.slug for r in results] == [f"big{i}" for i in range(10)]
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


LIVE = "https://ps.test"


@pytest.fixture
def live(sqlite_app: Any) -> Iterator[dict[str, Any]]:
    """A user (signed up and logged in through ApiClient) owning project demo, with keys."""
    transport = httpx.WSGITransport(app=sqlite_app)
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
        yield {"app": sqlite_app, "session": session,
               "keys": {r: k["key"] for r, k in keys.items()}}


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
        assert [r.slug for r in results] == [i["slug"] for i in items]
        assert results[7].outcome == PushOutcome.INVALID
        assert {r.outcome for i, r in enumerate(results) if i != 7} == {PushOutcome.CREATED}
        again = api_client.push_batch("demo", items[:3])
        assert [r.outcome for r in again] == [PushOutcome.UNCHANGED] * 3
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


def test_live_slug_never_walks_out_of_the_prompts_route(live: dict[str, Any]) -> None:
    # A slug is user input (an app's `client.get(name)`, the CLI's argument): "../keys" must be
    # a prompt that does not exist, never the keys route (httpx resolves dot segments).
    with editor(live, "admin") as api_client:
        for slug, method in [("../keys", "get_version"), ("a/../../keys", "get_version"),
                             ("../keys/1", "archive"), ("Support/Greeting", "get_version")]:
            with pytest.raises(ApiError) as info:
                getattr(api_client, method)("demo", slug)
            assert (info.value.status, info.value.code) == (404, "not_found"), slug
            assert info.value.detail.startswith(f"No prompt {slug!r}: ")
        assert len(api_client.keys("demo")) == 3  # none revoked by "../keys/1"


def test_live_secure_cookie_over_http_is_a_clear_error(sqlite_app: Any) -> None:
    with ApiClient(SERVER, transport=httpx.WSGITransport(app=sqlite_app)) as session:
        session.signup("bob@example.com", "correct horse battery")
        with pytest.raises(ConfigError, match="HTTPS only but is reached over http://"):
            session.login("bob@example.com", "correct horse battery")
