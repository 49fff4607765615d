"""Editing a webhook in the admin (its URL, events and enabled flag), through the service the
API's PATCH uses, on both databases: admins only, CSRF-checked, a refusal shown on the form with
what was typed and nothing saved, a save redirected (PRG) and read on the activity page."""

from __future__ import annotations

import html as markup
import re
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.admin_team import Team, html
from webapi.extensions import db
from webapi.models import Webhook

HOOKS = "/admin/p/demo/webhooks"
URL = "https://93.184.215.14/hook"


@pytest.fixture
def hook(team: Team) -> dict[str, Any]:
    made = team.api("POST", "/projects/demo/webhooks",
                    json={"url": URL, "events": ["label.moved", "version.created"]})
    assert made.status_code == 201, made.get_json()
    return dict(made.get_json())


def stored(team: Team, hook: dict[str, Any]) -> dict[str, Any]:
    """The webhook as the API shows it now."""
    return dict(team.api("GET", f"/projects/demo/webhooks/{hook['id']}").get_json())


def updates(team: Team) -> list[dict[str, Any]]:
    return [e for e in team.events() if e["action"] == "webhook.updated"]


def activity(team: Team) -> str:
    page = html(team.viewer.client.get("/admin/p/demo/activity"))
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))


def form(url: str = URL, events: str = "label.moved version.created",
         enabled: bool = True) -> dict[str, str]:
    return {"url": url, "events": events, **({"enabled": "on"} if enabled else {})}


def test_admins_only_and_csrf_checked(team: Team, hook: dict[str, Any]) -> None:
    edit = f"{HOOKS}/{hook['id']}/edit"
    page = html(team.admin.client.get(edit))
    assert f'value="{URL}"' in page and 'value="label.moved version.created"' in page
    assert 'name="enabled" value="on" checked' in page
    assert f'href="{edit}"' in html(team.admin.client.get(HOOKS))  # the list links to it
    for member in (team.editor, team.viewer):
        assert member.client.get(edit).status_code == 403
        assert member.post(edit, form("https://93.184.215.15/x")).status_code == 403
    assert team.admin.post(edit, form("https://93.184.215.15/x"), csrf=False).status_code == 403
    assert team.admin.client.get(f"{HOOKS}/{hook['id'] + 1}/edit").status_code == 404
    assert stored(team, hook)["url"] == URL and updates(team) == []


def test_a_save_changes_only_what_was_edited_and_redirects(team: Team,
                                                          hook: dict[str, Any]) -> None:
    with team.app.app_context():
        secret = db.session.scalar(select(Webhook.secret).where(Webhook.id == hook["id"]))
    saved = team.admin.post(f"{HOOKS}/{hook['id']}/edit",
                            form("https://93.184.215.15/v2", "*, label.moved"))
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"{HOOKS}#webhook-{hook['id']}")
    now = stored(team, hook)
    assert (now["url"], now["events"], now["enabled"]) == (
        "https://93.184.215.15/v2", ["*", "label.moved"], True)
    with team.app.app_context():  # the secret stays: receivers keep verifying
        assert db.session.scalar(select(Webhook.secret).where(Webhook.id == hook["id"])) == secret
    assert f"Webhook {hook['id']} saved." in html(team.admin.client.get(HOOKS))
    # The event names what changed, as a PATCH of those fields would: not 'enabled'.
    (event,) = updates(team)
    assert event["details"] == {"id": hook["id"], "host": "93.184.215.15",
                                "events": ["*", "label.moved"]}
    assert f"Changed webhook #{hook['id']}, now to 93.184.215.15 , for *, label.moved" \
        in activity(team)

    # Untick 'Enabled' alone: turned off, nothing else named.
    off = team.admin.post(f"{HOOKS}/{hook['id']}/edit",
                          form("https://93.184.215.15/v2", "*, label.moved", enabled=False))
    assert off.status_code == 302 and stored(team, hook)["enabled"] is False
    assert updates(team)[0]["details"] == {"id": hook["id"], "enabled": False}
    assert f"Turned off webhook #{hook['id']} " in activity(team)

    # The form sent back as shown: nothing to save, no event.
    same = team.admin.post(f"{HOOKS}/{hook['id']}/edit",
                           form("https://93.184.215.15/v2", "label.moved *", enabled=False))
    assert same.status_code == 302 and len(updates(team)) == 2
    assert f"Webhook {hook['id']} unchanged." in html(team.admin.client.get(HOOKS))


REFUSED = {  # what the form gets: (url, events) -> words of its error
    "private": (("http://10.1.2.3/hook", "*"), "a private address"),
    "loopback": (("http://127.0.0.1:8000/hook", "*"), "loopback"),
    "scheme": (("ftp://93.184.215.14/hook", "*"), "must start with http:// or https://"),
    "not a url": (("hooks dot example", "*"), "&#39;url&#39; is refused"),
    "empty url": (("", "*"), "&#39;url&#39; is refused"),
    "nul": ((f"{URL}\x00x", "*"), "&#39;url&#39; contains a NUL character"),
    "nel": ((f"{URL}\x85x", "*"), "&#39;url&#39; contains the control character U+0085"),
    "del": ((f"{URL}\x7fx", "*"), "&#39;url&#39; contains the control character U+007F"),
    "tab": ((f"{URL}\tx", "*"), "&#39;url&#39; contains the control character U+0009"),
    "newline": ((f"{URL}\nx", "*"), "&#39;url&#39; contains the control character U+000A"),
    "bad event": ((URL, "Label.Moved"), "&#39;events&#39; must be a list"),
    "no events": ((URL, " , "), "&#39;events&#39; must be a list"),
    # A good URL beside refused events: the URL, checked first, is not saved either.
    "good url, bad events": (("https://93.184.215.15/v2", "label.moved\x1b[2J"),
                             "&#39;events&#39; must be a list"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_a_refusal_is_shown_on_the_form_and_nothing_is_saved(
        team: Team, hook: dict[str, Any], case: tuple[tuple[str, str], str]) -> None:
    (url, events), words = case
    before = stored(team, hook)
    refused = team.admin.post(f"{HOOKS}/{hook['id']}/edit", form(url, events, enabled=False))
    assert refused.status_code == 400
    page = html(refused)
    assert "Not saved." in page and words in page, page
    field = "hook-events" if "events" in words else "hook-url"
    assert re.search(f'id="{field}"[^>]*aria-invalid="true"', page), page
    # What was typed is kept to fix, the enabled box as it was sent; the lede shows the saved.
    assert f'value="{markup.escape(url.strip())}"' in page
    assert f'value="{markup.escape(events)}"' in page
    assert 'name="enabled" value="on">' in page
    assert f"Now to <span class=\"mono\">{URL}</span>" in page
    assert stored(team, hook) == before and updates(team) == []


def test_enabling_a_webhook_the_worker_turned_off_clears_its_failures(
        team: Team, hook: dict[str, Any]) -> None:
    with team.app.app_context():
        row = db.session.get(Webhook, hook["id"])
        assert row is not None
        row.enabled, row.disabled_reason = False, "failed for 24 h"
        row.failing_since = row.created_at
        db.session.commit()
    assert team.admin.post(f"{HOOKS}/{hook['id']}/edit", form()).status_code == 302
    now = stored(team, hook)
    assert now["enabled"] is True and now["failing_since"] is None
    assert now["disabled_reason"] is None
    assert f"Turned on webhook #{hook['id']} " in activity(team)
