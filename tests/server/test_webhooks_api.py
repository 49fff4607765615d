"""The webhook routes (SPEC §12) on both databases: admin only, the secret shown once, every
field checked with a 400 naming it, loopback refused unless WEBHOOK_ALLOW_PRIVATE, events
logged without the URL's path or query."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.app import Account, make_account

BASE = "/api/v1/projects/demo/webhooks"
PUBLIC = "https://93.184.215.14/hook?token=secret-token"  # a literal: no DNS needed


def test_create_list_read_update_delete(app: Flask, account: Account) -> None:
    web = app.test_client()
    admin = account.headers("admin")
    made = web.post(BASE, headers=admin, json={"url": PUBLIC, "events": ["label.moved"]})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert (body["url"], body["events"], body["enabled"]) == (PUBLIC, ["label.moved"], True)
    listed = web.get(BASE, headers=admin).get_json()["webhooks"]
    assert [w["id"] for w in listed] == [body["id"]]
    assert all("secret" not in w for w in listed)
    one = f"{BASE}/{body['id']}"
    assert "secret" not in web.get(one, headers=admin).get_json()
    changed = web.patch(one, headers=admin, json={"events": ["*"], "enabled": False})
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["events"], changed.get_json()["enabled"]) == (["*"], False)
    assert web.patch(one, headers=admin, json={}).status_code == 400
    assert web.delete(one, headers=admin).status_code == 204
    assert web.get(one, headers=admin).status_code == 404
    assert web.delete(one, headers=admin).status_code == 404
    events = web.get("/api/v1/projects/demo/events", headers=admin).get_json()["events"]
    actions = [e["action"] for e in events[:3]]
    assert actions == ["webhook.deleted", "webhook.updated", "webhook.created"]
    # Viewers read events: they name the host, never the token in the URL's query.
    assert "secret-token" not in str(events)
    assert events[2]["details"]["host"] == "93.184.215.14"


def test_a_given_secret_is_kept(app: Flask, account: Account) -> None:
    made = app.test_client().post(BASE, headers=account.headers(), json={
        "url": PUBLIC, "events": ["*"], "secret": "my-own-secret-1234"})
    assert made.status_code == 201 and made.get_json()["secret"] == "my-own-secret-1234"


@pytest.mark.parametrize("body, field", [
    ({"events": ["*"]}, "url"),
    ({"url": 5, "events": ["*"]}, "url"),
    ({"url": "ftp://93.184.215.14/", "events": ["*"]}, "url"),
    ({"url": "http://127.0.0.1:5000/hook", "events": ["*"]}, "url"),
    ({"url": "http://localhost/", "events": ["*"]}, "url"),
    ({"url": "http://[::ffff:127.0.0.1]/", "events": ["*"]}, "url"),
    ({"url": "http://2130706433/", "events": ["*"]}, "url"),
    ({"url": PUBLIC}, "events"),
    ({"url": PUBLIC, "events": []}, "events"),
    ({"url": PUBLIC, "events": "label.moved"}, "events"),
    ({"url": PUBLIC, "events": ["Label Moved"]}, "events"),
    ({"url": PUBLIC, "events": ["*"], "secret": "short"}, "secret"),
    ({"url": PUBLIC, "events": ["*"], "secret": "é" * 20}, "secret"),
    ({"url": PUBLIC, "events": ["*"], "enabled": "yes"}, "enabled"),
])
def test_bad_fields_are_400s_naming_them(app: Flask, account: Account, body: dict[str, object],
                                         field: str) -> None:
    answer = app.test_client().post(BASE, headers=account.headers(), json=body)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] == field


def test_loopback_is_allowed_with_webhook_allow_private(app: Flask, account: Account) -> None:
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    made = app.test_client().post(BASE, headers=account.headers(), json={
        "url": "http://127.0.0.1:5000/hook", "events": ["*"]})
    assert made.status_code == 201, made.get_json()


def test_only_admins_and_only_their_project(app: Flask, account: Account) -> None:
    web = app.test_client()
    made = web.post(BASE, headers=account.headers(), json={"url": PUBLIC, "events": ["*"]})
    hook = made.get_json()["id"]
    for role in ("viewer", "editor"):
        headers = account.headers(role)
        assert web.get(BASE, headers=headers).status_code == 403
        assert web.post(BASE, headers=headers, json={"url": PUBLIC, "events": ["*"]}
                        ).status_code == 403
        assert web.get(f"{BASE}/{hook}/deliveries", headers=headers).status_code == 403
    other = make_account(app, "olga@example.com", "other")
    base = "/api/v1/projects/other/webhooks"
    assert web.get(f"{base}/{hook}", headers=other.headers()).status_code == 404
    assert web.delete(f"{base}/{hook}", headers=other.headers()).status_code == 404
    assert web.get(f"{BASE}/{hook}", headers=other.headers()).status_code == 403


def test_the_delivery_log_pages_newest_first(app: Flask, account: Account) -> None:
    web = app.test_client()
    hook = web.post(BASE, headers=account.headers(), json={"url": PUBLIC, "events": ["*"]}
                    ).get_json()["id"]
    for n in range(3):
        web.post("/api/v1/projects/demo/prompts/p/q", headers=account.headers(),
                 json={"source": f"template: v{n}\n"})
    url = f"{BASE}/{hook}/deliveries?limit=2"
    first = web.get(url, headers=account.headers()).get_json()
    assert [d["action"] for d in first["deliveries"]] == ["version.created"] * 2
    assert first["deliveries"][0]["status"] == "pending"
    rest = web.get(f"{url}&cursor={first['next']}", headers=account.headers()).get_json()
    assert [d["action"] for d in rest["deliveries"]] == ["version.created", "webhook.created"]
    assert rest["next"] is None
