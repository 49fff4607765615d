"""Client.render of a prompt that includes partials (SPEC §13), through the real app in-process:
expanded as the fetch resolved them, a change to the partial seen at the next revalidation, and
a bundle's unresolved copy refused instead of rendered with "{{> slug }}" left in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from promptsync.client.api import ApiClient
from promptsync.client.bundle import write_bundle
from promptsync.client.sdk import Client
from promptsync.errors import PromptSyncError, RenderError
from tests.support.app import make_account
from tests.support.fakes import FakeClock

LIVE = "https://ps.test"
TONE = "variables:\n  name: {}\ntemplate: 'Be kind, {{ name }}.'\n"
OUTER = "template: 'Hi. {{> shared/tone }} ({{> shared/tone@1 }})'\n"


def test_render_expands_partials_and_follows_them(sqlite_app: Any, tmp_path: Path) -> None:
    keys = make_account(sqlite_app).keys
    transport = httpx.WSGITransport(app=sqlite_app)
    with ApiClient(LIVE, keys["admin"], transport=transport) as admin:
        admin.push("demo", "shared/tone", TONE)
        admin.push("demo", "support/outer", OUTER)
        admin.set_label("demo", "support/outer", "production", 1)
        fetched = admin.get_version("demo", "support/outer", label="production")
        assert fetched is not None
        bundle = tmp_path / "bundle.json"
        write_bundle(bundle, "demo", "production", [fetched])
    clock = FakeClock()
    client = Client(LIVE, api_key=keys["viewer"], transport=transport, clock=clock, ttl=30)
    prompt = client.get("support/outer")
    assert prompt.render(name="Ann") == "Hi. Be kind, Ann. (Be kind, Ann.)"
    assert [dict(i) for i in prompt.includes] == [
        {"slug": "shared/tone", "ref": "latest", "version": 1},
        {"slug": "shared/tone", "ref": "1", "version": 1}]
    with pytest.raises(RenderError) as raised:
        prompt.render()  # the partial's variable joined the includer's contract
    assert raised.value.missing == ["name"]
    with ApiClient(LIVE, keys["editor"], transport=transport) as editor:
        editor.push("demo", "shared/tone", "template: 'Be brief.'\n")
    clock.now += 31
    assert client.get("support/outer").render(name="Bo") == "Hi. Be brief. (Be kind, Bo.)"
    # A version by number includes the partial's latest too, so it is not cached for good.
    pinned = client.get("support/outer", version=1)
    assert pinned.render(name="Cy") == "Hi. Be brief. (Be kind, Cy.)"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    offline = Client(LIVE, api_key=keys["viewer"], transport=httpx.MockTransport(refuse),
                     bundle=bundle)
    copy = offline.get("support/outer", label="production")
    with pytest.raises(PromptSyncError, match="includes shared/tone, not resolved"):
        copy.render(name="Ann")
