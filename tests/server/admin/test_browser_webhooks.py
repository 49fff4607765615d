"""Editing a webhook in a real Chromium against a real server process, the network cut off: a
refused URL comes back on the form, a save lands on the Webhooks page and reloads as a GET."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOCAL_HOSTS,
    api_account,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def tab(server: str) -> Iterator[Any]:
    """A page of headless Debian Chromium whose requests to anything but loopback abort."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", lambda route: route.continue_()
                      if urlsplit(route.request.url).hostname in LOCAL_HOSTS else route.abort())
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
        chromium.close()


def test_edit_a_webhook_in_the_browser(server: str, tab: Any) -> None:
    from playwright.sync_api import expect

    key = api_account(server, "hooks@example.com", "hooks")
    made = httpx.post(f"{server}/api/v1/projects/hooks/webhooks", headers={"X-API-Key": key},
                      json={"url": "https://93.184.215.14/hook", "events": ["label.moved"]},
                      timeout=10)
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    posts: list[str] = []
    tab.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    tab.goto(f"{server}/admin/p/hooks/webhooks")
    tab.fill("#email", "hooks@example.com")
    tab.fill("#password", "correct horse battery")
    tab.click("button:has-text('Log in')")
    tab.click(f"a[aria-label='Edit webhook {hook}']")
    edit_url = f"{server}/admin/p/hooks/webhooks/{hook}/edit"
    assert tab.url == edit_url
    assert tab.input_value("#hook-url") == "https://93.184.215.14/hook"

    # A private address: refused on the form, what was typed kept, the field marked.
    tab.fill("#hook-url", "http://10.0.0.7/hook")
    tab.fill("#hook-events", "label.moved version.created")
    tab.uncheck("input[name=enabled]")
    tab.click("button:has-text('Save webhook')")
    expect(tab.locator("#edit-status")).to_contain_text("Not saved.")
    expect(tab.locator("#edit-status")).to_contain_text("a private address")
    assert tab.input_value("#hook-url") == "http://10.0.0.7/hook"
    assert tab.input_value("#hook-events") == "label.moved version.created"
    assert not tab.is_checked("input[name=enabled]")
    assert tab.get_attribute("#hook-url", "aria-invalid") == "true"
    assert tab.url == edit_url  # admin.js: a reload asks for the form, not the POST again
    shot(tab, "webhook-edit-refused")
    shown = httpx.get(f"{server}/api/v1/projects/hooks/webhooks/{hook}",
                      headers={"X-API-Key": key}, timeout=10).json()
    assert (shown["url"], shown["events"], shown["enabled"]) == (
        "https://93.184.215.14/hook", ["label.moved"], True)

    # A public one: saved, back on the Webhooks page; a reload sends no POST.
    tab.fill("#hook-url", "https://93.184.215.15/v2")
    tab.click("button:has-text('Save webhook')")
    expect(tab.locator(".alert-success")).to_have_text(f"Webhook {hook} saved.")
    card = tab.locator(f"#webhook-{hook}")
    expect(card).to_contain_text("https://93.184.215.15/v2")
    expect(card).to_contain_text("label.moved, version.created")
    expect(card).to_contain_text("disabled")
    posts.clear()
    tab.reload()
    expect(card).to_contain_text("https://93.184.215.15/v2")
    assert posts == []
    tab.click("nav.sidebar >> text=Activity")
    expect(tab.locator("tbody tr").first).to_contain_text(
        f"Turned off webhook #{hook}, now to 93.184.215.15, for label.moved, version.created")
