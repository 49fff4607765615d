"""The web admin in a real Chromium against a real server process, with the network cut off."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

GREETING_V1 = """\
description: Greets a customer by name and topic
model: gpt-4o-mini
params: {temperature: 0.2, max_tokens: 300}
variables:
  name: {description: customer first name, default: there}
  topic: {description: what they asked about, required: true}
template: |
  Hello {{ name }}, thanks for asking about {{ topic }}.
  A support agent will reply within one business day.
tags: [support, onboarding]
"""
GREETING_V2 = GREETING_V1.replace(
    "  A support agent will reply within one business day.\n",
    "  We have opened a ticket; a specialist will reply within four hours.\n"
    "  Reply to this message to add details.\n",
).replace("temperature: 0.2", "temperature: 0.3")
REFUND = """\
description: Drafts a refund answer
model: gpt-4o
messages:
  - {role: system, content: "You are a careful billing assistant."}
  - {role: user, content: "Order {{ order }}: {{ question }}"}
"""


def _browser_unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install playwright; no 'playwright install')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`flask --app webapi run` on a loopback port over a migrated SQLite file."""
    reason = _browser_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser tests: {reason}")
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("browser-server")
    database = workdir / "admin.db"
    shutil.copyfile(sqlite_template, database)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "PROMPTSYNC_ENV": "development",
           "SECRET_KEY": "browser-test-secret", "BCRYPT_ROUNDS": "4", "FLASK_DEBUG": "0"}
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "webapi", "run", "--port", str(port),
         "--host", "127.0.0.1", "--no-reload"],
        env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("server did not start:\n" + (workdir / "server.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


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


def shot(page: Any, name: str, docs: str | None = None, full: bool = False) -> None:
    """Save a screenshot to test-artifacts; also to docs/ with PROMPTSYNC_UPDATE_SCREENSHOTS=1."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    # Only on request, so that an ordinary test run leaves the committed images alone.
    if docs and os.environ.get("PROMPTSYNC_UPDATE_SCREENSHOTS"):
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / docs)


def assert_styled(page: Any) -> None:
    """The local stylesheet and script loaded although every outside request is blocked."""
    color = page.eval_on_selector(".topbar", "el => getComputedStyle(el).backgroundColor")
    assert color == "rgb(22, 27, 38)"
    assert page.blocked == []


def api_account(base: str, email: str, project: str) -> str:
    """Sign up, create a project and an admin key through the JSON API; returns the key."""
    with httpx.Client(base_url=f"{base}/api/v1", timeout=10) as api:
        credentials = {"email": email, "password": "correct horse battery"}
        assert api.post("/auth/signup", json=credentials).status_code == 201
        csrf = {"X-CSRF-Token": api.post("/auth/login", json=credentials).json()["csrf_token"]}
        assert api.post("/projects", json={"slug": project}, headers=csrf).status_code == 201
        response = api.post(f"/projects/{project}/keys", json={"name": "cli", "role": "admin"},
                            headers=csrf)
        return str(response.json()["key"])


def push(base: str, key: str, slug: str, source: str, message: str) -> dict[str, Any]:
    """Push a version through the JSON API as the CLI does (the key names the project)."""
    response = httpx.post(f"{base}/api/v1/prompts/{slug}",
                          json={"source": source, "message": message, "parent_version": 0},
                          headers={"X-API-Key": key}, timeout=10)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_full_admin_journey(server: str, page: Any) -> None:
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
