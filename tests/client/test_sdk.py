"""Tests for the SDK Client: ETag cache with a fake clock, outages, bundles, the real app."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import promptsync
from promptsync.client.api import ApiClient
from promptsync.client.bundle import write_bundle
from promptsync.client.sdk import Client, PromptVersion
from promptsync.errors import (
    ApiError,
    BundleError,
    ConfigError,
    PromptFileError,
    RenderError,
    ServerUnreachable,
)
from promptsync.format.prompt import source_sha256
from tests.support.app import make_account
from tests.support.fakes import (
    CHAT,
    GREETING_V1,
    GREETING_V2,
    SERVER,
    CountingTransport,
    FakeClock,
    FakeServer,
    make_bundle,
)


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


LIVE = "https://ps.test"


def test_live_sdk_cache_etag_and_fallback(sqlite_app: Any, tmp_path: Path) -> None:
    keys = make_account(sqlite_app).keys
    admin = ApiClient(LIVE, keys["admin"], transport=httpx.WSGITransport(app=sqlite_app))
    with admin as api_client:
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
    transport = CountingTransport(sqlite_app)
    clock = FakeClock()
    client = Client(
        LIVE,
        api_key=keys["viewer"],
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
