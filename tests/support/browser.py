"""What the browser tests share: Chromium settings, prompt sources, screenshots, API set-up."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
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
FAREWELL = """\
description: Closes a conversation politely
template: |
  Thanks, {{ name }}. Is there anything else we can help with?
variables:
  name: {description: customer first name, default: there}
"""
REFUND = """\
description: Drafts a refund answer
model: gpt-4o
messages:
  - {role: system, content: "You are a careful billing assistant."}
  - {role: user, content: "Order {{ order }}: {{ question }}"}
"""


def browser_unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install playwright; no 'playwright install')"
    return None


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
