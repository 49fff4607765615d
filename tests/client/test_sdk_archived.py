"""The SDK Client and an archived prompt, against the real app: a 410 raises PromptArchived and
drops the cached latest and labels, so an archived prompt is not served from the cache forever."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from promptsync.client.api import ApiClient
from promptsync.client.sdk import Client
from promptsync.errors import ApiError, PromptArchived, ServerUnreachable
from tests.support.app import make_account
from tests.support.fakes import GREETING_V1, GREETING_V2, CountingTransport, FakeClock

LIVE = "https://ps.test"


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused")


def test_an_archived_prompt_raises_and_leaves_the_cache(sqlite_app: Any) -> None:
    keys = make_account(sqlite_app).keys
    with ApiClient(LIVE, keys["admin"], transport=httpx.WSGITransport(app=sqlite_app)) as admin:
        admin.push("demo", "support/greeting", GREETING_V1)
        admin.push("demo", "support/greeting", GREETING_V2)
        admin.set_label("demo", "support/greeting", "staging", 1)
        clock = FakeClock()
        client = Client(LIVE, api_key=keys["viewer"], transport=CountingTransport(sqlite_app),
                        clock=clock, ttl=30)
        assert client.get("support/greeting").version == 2
        assert client.get("support/greeting", label="staging").version == 1
        pinned = client.get("support/greeting", version=1)

        admin.archive("demo", "support/greeting")
        clock.now += 31  # past the TTL: both are revalidated and answered 410
        for label in (None, "staging"):
            with pytest.raises(PromptArchived) as raised:
                client.get("support/greeting", label=label)
            assert isinstance(raised.value, ApiError)
            assert (raised.value.status, raised.value.code) == (410, "archived")
            assert "archived" in str(raised.value)
        # A pinned version is immutable and still served (the server answers it too).
        assert client.get("support/greeting", version=1) is pinned

        # The copies were dropped: with the server gone, nothing stale is served in their place.
        client._api._http._transport = httpx.MockTransport(refuse)
        for label in (None, "staging"):
            with pytest.raises(ServerUnreachable):
                client.get("support/greeting", label=label)

        # Restored on the server: the client fetches it afresh.
        admin.restore("demo", "support/greeting")
        client._api._http._transport = CountingTransport(sqlite_app)
        assert client.get("support/greeting").version == 2
