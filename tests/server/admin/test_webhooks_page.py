"""The admin's Webhooks page through the Flask test client, on both databases: admins only,
the secret shown once, each webhook's last deliveries (status, attempts, response code), and
the create, disable, redeliver and delete forms (CSRF-checked)."""

from __future__ import annotations

import re

from tests.support.admin_team import Team, html

PAGE = "/admin/p/demo/webhooks"
URL = "https://93.184.215.14/hook"


def test_admins_only(team: Team) -> None:
    assert team.admin.client.get(PAGE).status_code == 200
    for member in (team.editor, team.viewer):
        assert member.client.get(PAGE).status_code == 403
        assert member.post(PAGE, {"url": URL, "events": "*"}).status_code == 403
    assert team.api("GET", "/projects/demo/webhooks").get_json()["webhooks"] == []
    assert "Webhooks</a>" in html(team.admin.client.get("/admin/p/demo/members"))


def test_create_shows_the_secret_once_and_lists_deliveries(team: Team) -> None:
    made = team.admin.post(PAGE, {"url": URL, "events": "label.moved, version.created"})
    assert made.status_code == 201
    secret = re.search(r'id="new-secret">(whsec_[^<]+)<', html(made))
    assert secret, html(made)
    (hook,) = team.api("GET", "/projects/demo/webhooks").get_json()["webhooks"]
    assert hook["events"] == ["label.moved", "version.created"]
    pushed = team.api("POST", "/projects/demo/prompts/support/greeting",
                      json={"source": "template: hi {{ name }}\n"})
    assert pushed.status_code == 201
    page = html(team.admin.client.get(PAGE))
    assert secret.group(1) not in page  # shown once, never again
    assert URL in page and "version.created" in page and "pending" in page
    (delivery,) = team.api("GET", f"/projects/demo/webhooks/{hook['id']}/deliveries"
                           ).get_json()["deliveries"]
    assert delivery["id"] in page

    # Redeliver: a new delivery of the same event.
    again = f"{PAGE}/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    assert team.admin.post(again, csrf=False).status_code == 403  # no CSRF token
    assert team.admin.post(again).status_code == 302
    log = team.api("GET", f"/projects/demo/webhooks/{hook['id']}/deliveries"
                   ).get_json()["deliveries"]
    assert [d["redelivery_of"] for d in log] == [delivery["id"], None]

    # Disable, then delete.
    assert team.admin.post(f"{PAGE}/{hook['id']}/disable").status_code == 302
    assert "Enable</button>" in html(team.admin.client.get(PAGE))
    assert team.api("GET", f"/projects/demo/webhooks/{hook['id']}").get_json()["enabled"] is False
    assert team.admin.post(f"{PAGE}/{hook['id']}/delete", csrf=False).status_code == 403
    assert team.admin.post(f"{PAGE}/{hook['id']}/delete").status_code == 302
    assert team.api("GET", "/projects/demo/webhooks").get_json()["webhooks"] == []
    assert "No webhooks yet." in html(team.admin.client.get(PAGE))


def test_a_refused_url_is_shown_with_what_was_typed(team: Team) -> None:
    refused = team.admin.post(PAGE, {"url": "http://127.0.0.1:8000/hook", "events": "*"})
    assert refused.status_code == 400
    page = html(refused)
    assert "loopback" in page and 'value="http://127.0.0.1:8000/hook"' in page
    assert team.api("GET", "/projects/demo/webhooks").get_json()["webhooks"] == []
