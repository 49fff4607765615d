"""The admin's activity page words every webhook event (webhook.created, updated, deleted, and
disabled by the worker after 24 h of failures) as a sentence, like the other actions."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

from tests.support.admin_team import Team, html
from webapi.models import utcnow
from webapi.webhooks import delivery
from webapi.webhooks.worker import RETRY_FOR, Worker

ACTIVITY = "/admin/p/demo/activity"
HOOKS = "/admin/p/demo/webhooks"
HOST = "93.184.215.14"


def words(team: Team) -> str:
    page = html(team.viewer.client.get(ACTIVITY))
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))


def test_webhook_events_read_as_sentences(team: Team) -> None:
    made = team.admin.post(HOOKS, {"url": f"https://{HOST}/hook",
                                   "events": "version.created, label.moved"})
    assert made.status_code == 201
    (hook,) = team.api("GET", "/projects/demo/webhooks").get_json()["webhooks"]
    changed = team.api("PATCH", f"/projects/demo/webhooks/{hook['id']}",
                       json={"url": "https://93.184.215.15/v2", "events": ["*"]})
    assert changed.status_code == 200, changed.get_json()
    pushed = team.api("POST", "/projects/demo/prompts/support/greeting",
                      json={"source": "template: hi {{ name }}\n"})
    assert pushed.status_code == 201
    # Every attempt fails; the clock is past the delivery's 24 h, so the worker gives up and
    # disables the webhook (an event the worker writes itself, actor "promptsync").
    later = utcnow() + RETRY_FOR + dt.timedelta(minutes=1)
    worker = Worker(team.app, clock=lambda: later, resolver=lambda host, port: [HOST],
                    poster=lambda target, headers, body: delivery.Outcome(500, "HTTP 500", 0.0))
    assert worker.drain() >= 1
    assert team.admin.post(f"{HOOKS}/{hook['id']}/enable").status_code == 302
    assert team.admin.post(f"{HOOKS}/{hook['id']}/disable").status_code == 302
    assert team.admin.post(f"{HOOKS}/{hook['id']}/delete").status_code == 302

    text = words(team)
    expected = [
        "webhook Deleted a webhook to 93.184.215.15",
        f"webhook Turned off webhook #{hook['id']}",
        f"webhook Turned on webhook #{hook['id']}",
        "webhook Turned off the webhook to 93.184.215.15 after 24 h of failed deliveries "
        "(last: HTTP 500)",
        f"webhook Changed webhook #{hook['id']}, now to 93.184.215.15 , for *",  # (a tag's end)
        f"webhook Added a webhook to {HOST} (for label.moved, version.created)",
    ]
    positions = [text.find(sentence) for sentence in expected]
    assert -1 not in positions, [s for s, at in zip(expected, positions, strict=True) if at < 0]
    assert positions == sorted(positions)  # newest first
    assert "webhook.created" not in text and "host=" not in text  # no raw action, no k=v
