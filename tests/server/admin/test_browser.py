"""The web admin in a real Chromium against a real server process, with the network cut off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FAREWELL,
    GREETING_V1,
    GREETING_V2,
    LOCAL_HOSTS,
    REFUND,
    api_account,
    assert_styled,
    push,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    """Headless Debian Chromium driven by playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page whose requests to anything but loopback are aborted and recorded."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.blocked = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            tab.blocked.append(route.request.url)
            route.abort()

    tab.route("**/*", only_local)
    tab.on("dialog", lambda dialog: dialog.accept())  # the confirm() of revoke and promote
    yield tab
    context.close()


def test_full_admin_journey(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    # Sign up (the login redirect first), then create a project.
    page.goto(f"{server}/admin/p/demo/")
    assert "/admin/login?next=" in page.url
    assert_styled(page)
    shot(page, "01-login")
    page.click("text=Sign up")
    page.fill("#email", "ann@example.com")
    page.fill("#password", "correct horse battery")
    page.fill("#confirm", "correct horse battery")
    page.click("button:has-text('Sign up')")
    page.wait_for_selector("text=Create a project to start")
    page.fill("#slug", "demo")
    page.fill("#name", "Demo")
    page.click("button:has-text('Create project')")
    page.wait_for_selector("text=No prompts yet")

    # An admin key, shown once, with a working copy button.
    page.click("nav.sidebar >> text=API keys")
    page.fill("#key-name", "cli")
    page.select_option("#key-role", "admin")
    page.click("button:has-text('Create key')")
    key = page.inner_text("#new-key").strip()
    assert key.startswith("psk_")
    # admin.js is deferred: it may still be on its way when the new key is in the DOM.
    page.locator("button[data-copy='new-key']").wait_for(state="visible", timeout=10_000)
    shot(page, "02-key-created")
    page.goto(f"{server}/admin/p/demo/keys")
    assert key not in page.content()

    # The CLI's part: push prompts with the key.
    push(server, key, "support/greeting", GREETING_V1, "First draft")
    push(server, key, "billing/refund", REFUND, "Refund helper")
    push(server, key, "welcome", "template: Welcome aboard!\n", "Plain welcome")
    page.click("nav.sidebar >> text=Prompts")
    page.wait_for_selector("text=billing/")
    assert_styled(page)
    shot(page, "03-prompt-list")

    # Open the prompt, edit and save: a new version in the history.
    page.click("a:has-text('greeting')")
    page.wait_for_selector("#source-editor")
    assert "customer first name" in page.content()
    page.fill("#source-editor", GREETING_V2)
    page.fill("#message", "Promise a four-hour reply")
    page.click("button:has-text('Save as v2')")
    page.wait_for_selector("text=Saved support/greeting as version 2")
    history = page.inner_text("#history")
    assert "v2" in history and "Promise a four-hour reply" in history and "v1" in history

    # Promote v2 to production (the confirm dialog is accepted).
    page.fill("#label-name", "production")
    page.select_option("#label-version", "2")
    page.click("button:has-text('Move label')")
    page.wait_for_selector("text=Label 'production' now points at v2")
    assert "production" in page.inner_text("#labels")
    fetched = httpx.get(f"{server}/api/v1/prompts/support/greeting?label=production",
                        headers={"X-API-Key": key}, timeout=10)
    assert fetched.json()["version"] == 2
    page.set_viewport_size({"width": 1440, "height": 1330})  # rendered view, editor, history
    page.evaluate("window.scrollTo(0, 0)")
    assert_styled(page)
    shot(page, "04-prompt", docs="prompt.png")
    page.set_viewport_size({"width": 1440, "height": 640})

    # Diff v1..v2 with added and removed lines highlighted.
    page.select_option("#diff-from", "1")
    page.select_option("#diff-to", "2")
    page.click("button:has-text('Compare')")
    page.wait_for_selector(".dl-add")
    assert page.locator(".dl-add").count() >= 2 and page.locator(".dl-del").count() >= 1
    assert "four hours" in page.inner_text(".diff")
    assert_styled(page)
    shot(page, "05-diff", docs="diff.png")
    page.set_viewport_size({"width": 1440, "height": 900})

    # Members page renders; then revoke the key: the API refuses it at once.
    page.goto(f"{server}/admin/p/demo/members")
    assert "ann@example.com" in page.inner_text("main")
    shot(page, "06-members")
    page.goto(f"{server}/admin/p/demo/keys")
    page.click("button[aria-label='Revoke key cli']")
    page.wait_for_selector("text=Key revoked")
    response = httpx.get(f"{server}/api/v1/prompts/support/greeting",
                         headers={"X-API-Key": key}, timeout=10)
    assert response.status_code == 401
    assert_styled(page)

    # A new prompt from the admin: a broken source first (kept, with its line), then version 1.
    page.click("nav.sidebar >> text=Prompts")
    page.click("a:has-text('New prompt')")
    page.fill("#new-slug", "support/farewell")
    page.fill("#source-editor", FAREWELL.replace("template:", "templat:"))
    page.fill("#message", "Close the conversation")
    page.click("button:has-text('Create v1')")
    expect(page.locator("#save-status")).to_contain_text("unknown key 'templat'")
    expect(page.locator("#save-status")).to_contain_text("line 2")
    assert page.input_value("#source-editor") == FAREWELL.replace("template:", "templat:")
    assert page.input_value("#message") == "Close the conversation"
    page.fill("#source-editor", FAREWELL)
    page.click("button:has-text('Create v1')")
    expect(page.locator(".alert-success")).to_have_text("Created support/farewell as version 1.")
    assert page.input_value("#source-editor") == FAREWELL

    # Its event, and the ones before it, on the activity page, newest first.
    page.click("nav.sidebar >> text=Activity")
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("Saved support/farewell v1")
    expect(rows.first).to_contain_text("ann@example.com")
    expect(rows.nth(1)).to_contain_text("Revoked API key “cli”")
    expect(page.locator("main")).to_contain_text("Set label production on support/greeting to v2")
    assert_styled(page)
    shot(page, "08-activity", docs="activity.png")
    rows.first.locator("a:has-text('support/farewell v1')").click()
    expect(page.locator("h1")).to_contain_text("farewell")


def test_stale_edit_in_two_tabs_keeps_the_text(server: str, browser: Any) -> None:
    key = api_account(server, "bo@example.com", "tabs")
    push(server, key, "welcome", "template: Welcome aboard!\n", "Plain welcome")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda route: route.continue_()
                  if urlsplit(route.request.url).hostname in LOCAL_HOSTS else route.abort())
    one = context.new_page()
    one.goto(f"{server}/admin/login")
    one.fill("#email", "bo@example.com")
    one.fill("#password", "correct horse battery")
    one.click("button:has-text('Log in')")
    one.goto(f"{server}/admin/p/tabs/prompts/welcome")
    two = context.new_page()
    two.goto(f"{server}/admin/p/tabs/prompts/welcome")
    one.fill("#source-editor", "template: Welcome aboard, friend!\n")
    one.click("button:has-text('Save as v2')")
    one.wait_for_selector("text=as version 2")
    two.fill("#source-editor", "template: Hi there!\n")
    two.click("button:has-text('Save as v2')")
    two.wait_for_selector("text=changed while you were editing")
    assert two.input_value("#source-editor") == "template: Hi there!\n"
    shot(two, "07-conflict")
    two.click("button:has-text('Save on top of v2')")
    two.wait_for_selector("text=as version 3")
    context.close()


def test_works_without_javascript(server: str, browser: Any) -> None:
    key = api_account(server, "nojs@example.com", "nojs")
    push(server, key, "welcome", "template: Welcome aboard!\n", "Plain welcome")
    context = browser.new_context(java_script_enabled=False)
    context.route("**/*", lambda route: route.continue_()
                  if urlsplit(route.request.url).hostname in LOCAL_HOSTS else route.abort())
    tab = context.new_page()
    tab.goto(f"{server}/admin/p/nojs/prompts/welcome")
    tab.fill("#email", "nojs@example.com")
    tab.fill("#password", "correct horse battery")
    tab.click("button:has-text('Log in')")
    tab.wait_for_selector("#source-editor")  # back on the page asked for (next=)
    assert not tab.locator("button[data-copy]").first.is_visible()  # copy needs JS
    tab.fill("#source-editor", "template: Welcome, no script needed!\n")
    tab.click("button:has-text('Save as v2')")
    tab.wait_for_selector("text=as version 2")
    tab.fill("#label-name", "production")
    tab.select_option("#label-version", "1")
    tab.click("button:has-text('Move label')")
    tab.wait_for_selector("text=Label 'production' now points at v1")
    context.close()


def test_an_editor_manages_their_own_keys_without_javascript(server: str, browser: Any) -> None:
    from playwright.sync_api import expect

    admin_key = api_account(server, "lead@example.com", "ownkeys")
    member = {"email": "dev@example.com", "password": "correct horse battery"}
    assert httpx.post(f"{server}/api/v1/auth/signup", json=member, timeout=10).status_code == 201
    invited = httpx.put(f"{server}/api/v1/projects/ownkeys/members/dev@example.com",
                        json={"role": "editor"}, headers={"X-API-Key": admin_key}, timeout=10)
    assert invited.status_code == 202, invited.text
    with httpx.Client(base_url=f"{server}/api/v1", timeout=10) as dev:
        token = dev.post("/auth/login", json=member).json()["csrf_token"]
        accepted = dev.post(f"/invitations/{invited.json()['invitation']['id']}/accept",
                            headers={"X-CSRF-Token": token})
        assert accepted.status_code == 200, accepted.text
    context = browser.new_context(java_script_enabled=False)
    context.route("**/*", lambda route: route.continue_()
                  if urlsplit(route.request.url).hostname in LOCAL_HOSTS else route.abort())
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.goto(f"{server}/admin/p/ownkeys/")
    tab.fill("#email", member["email"])
    tab.fill("#password", member["password"])
    tab.click("button:has-text('Log in')")
    tab.click("nav.sidebar >> text=API keys")
    expect(tab.locator("h2", has_text="Your active keys")).to_be_visible()
    expect(tab.locator("#key-role option")).to_have_text(["viewer", "editor"])
    expect(tab.locator("main")).not_to_contain_text(admin_key[:12])  # the admin's key
    tab.fill("#key-name", "build box")
    tab.select_option("#key-role", "editor")
    tab.click("button:has-text('Create key')")
    expect(tab.locator("#new-key")).to_contain_text("psk_")
    key = tab.inner_text("#new-key").strip()
    shot(tab, "09-member-keys")
    me = httpx.get(f"{server}/api/v1/me", headers={"X-API-Key": key}, timeout=10).json()
    assert me["key"]["role"] == "editor" and me["user"]["email"] == member["email"]
    tab.click("button[aria-label='Revoke key build box']")  # no confirm() without script
    expect(tab.locator(".alert-success")).to_contain_text("Key revoked")
    expect(tab.locator("main")).to_contain_text("You have no active keys")
    gone = httpx.get(f"{server}/api/v1/me", headers={"X-API-Key": key}, timeout=10)
    assert gone.status_code == 401
    context.close()


# Where a line box starts inside an element: the characters after which the next one moves
# down (a wrap). An email is never broken mid-word.
WRAPS = """el => {
  const breaks = []; let top = null, before = "";
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      const range = document.createRange(); range.setStart(node, i); range.setEnd(node, i + 1);
      const y = range.getBoundingClientRect().top;
      if (top !== null && y > top + 2) { breaks.push(before); }
      top = y; before = node.data[i];
    }
  }
  return breaks;
}"""


def test_first_hour_admin_details(server: str, browser: Any) -> None:
    email = "maximilian.longname@subsidiary.example-company.com"
    key = api_account(server, email, "firsthour")
    push(server, key, "welcome", "template: Welcome aboard!\n", "Plain welcome")
    second = httpx.post(f"{server}/api/v1/prompts/welcome", headers={"X-API-Key": key},
                        json={"source": "template: Welcome, friend!\n", "parent_version": 1},
                        timeout=10)
    assert second.status_code == 201, second.text
    label = httpx.put(f"{server}/api/v1/prompts/welcome/-/labels/production",
                      json={"version": 1}, headers={"X-API-Key": key}, timeout=10)
    assert label.status_code == 200, label.text
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.route("**/*", lambda route: route.continue_()
                  if urlsplit(route.request.url).hostname in LOCAL_HOSTS else route.abort())
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    posts: list[str] = []
    tab.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    tab.goto(f"{server}/admin/login")
    tab.fill("#email", email)
    tab.fill("#password", "correct horse battery")
    tab.click("button:has-text('Log in')")

    # A refused save shows the text and the errors; a reload fetches the page, not the POST.
    page_url = f"{server}/admin/p/firsthour/prompts/welcome"
    tab.goto(page_url)
    assert tab.input_value("#label-name") == ""  # no label is proposed, production least
    tab.fill("#source-editor", "template: Hi {{ who }}\nbogus: 1\n")
    tab.click("button:has-text('Save as v3')")
    tab.wait_for_selector("text=Not saved.")
    assert tab.input_value("#source-editor") == "template: Hi {{ who }}\nbogus: 1\n"
    assert tab.url == page_url, tab.url
    posts.clear()
    tab.reload()
    tab.wait_for_selector("#source-editor")
    assert posts == [] and "Not saved." not in tab.content()

    # The diff selects of the side column show their longest option whole.
    fits = tab.eval_on_selector_all(".col-side .diff-form select", """els => els.map(s => {
      const c = document.createElement("canvas").getContext("2d");
      c.font = getComputedStyle(s).font;
      const text = Math.max(...[...s.options].map(o => c.measureText(o.text).width));
      return s.clientWidth - 30 >= text;  // 30 px: padding and the arrow
    })""")
    assert fits and all(fits), fits

    # Emails in the tables that wrap anywhere stay whole (cut with an ellipsis if need be).
    for path in ("activity", ""):
        tab.goto(f"{server}/admin/p/firsthour/{path}")
        shown = tab.locator("td .who-text").first
        assert shown.evaluate(WRAPS) == [] and shown.get_attribute("title") == email
    assert tab.get_attribute("link[rel=icon]", "href").endswith("/favicon.svg")
    context.close()
