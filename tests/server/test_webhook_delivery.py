"""Webhook deliveries end to end on both databases: the real app writes the outbox, the real
worker sends to a receiver on a loopback port that checks every signature, is down for a while
and then gets every delivery exactly once per delivery id, in order per prompt. Time for the
backoff is an injected clock; the network and the databases are real."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from tests.support.app import BACKENDS, GREETING, Account, make_account, running_app
from tests.support.module_database import backend_url
from tests.support.webhook_receiver import Clock, Receiver
from webapi.extensions import db
from webapi.models import Event, Webhook, WebhookDelivery
from webapi.webhooks.worker import LONGEST_RETRY, RETRY_FOR, Worker

SECRET = "s3cret-for-webhook-tests"
ROUNDS = 40  # bound on worker rounds: each one moves the clock past the longest backoff


@dataclass
class Lab:
    app: Flask
    url: str


@pytest.fixture(scope="module", params=BACKENDS)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Lab]:
    """One app per backend for the module, allowed to send to loopback receivers."""
    url = backend_url(request, tmp_path_factory, "webhooks")
    with running_app(url, WEBHOOK_ALLOW_PRIVATE=True) as app:
        yield Lab(app, url)


def _project(lab: Lab, name: str) -> Account:
    return make_account(lab.app, f"{name}@example.com", name)


def _hook(lab: Lab, account: Account, url: str, events: list[str]) -> int:
    made = lab.app.test_client().post(
        f"/api/v1/projects/{account.project}/webhooks", headers=account.headers(),
        json={"url": url, "events": events, "secret": SECRET})
    assert made.status_code == 201, made.get_json()
    return int(made.get_json()["id"])


def _push(lab: Lab, account: Account, slug: str, n: int) -> None:
    answer = lab.app.test_client().post(
        f"/api/v1/projects/{account.project}/prompts/{slug}", headers=account.headers(),
        json={"source": GREETING + f"# {n}\n"})
    assert answer.status_code == 201, answer.get_json()


def _pending(app: Flask, webhook_id: int) -> int:
    with app.app_context():
        return len(db.session.scalars(select(WebhookDelivery.id).where(
            WebhookDelivery.webhook_id == webhook_id,
            WebhookDelivery.status == "pending")).all())


def test_receiver_down_for_a_while_gets_each_delivery_once_in_order(lab: Lab) -> None:
    account = _project(lab, "orders")
    receiver = Receiver(SECRET, status=500)
    receiver.up()
    try:
        webhook = _hook(lab, account, receiver.url, ["version.created", "label.moved"])
        for n in range(3):
            _push(lab, account, "a/one", n)
            _push(lab, account, "b/two", n)
        moved = lab.app.test_client().put(
            f"/api/v1/projects/{account.project}/prompts/a/one/-/labels/staging",
            headers=account.headers(), json={"version": 2})
        assert moved.status_code == 200, moved.get_json()
        # A batch push (events inserted in bulk) has its deliveries too.
        batch = lab.app.test_client().post(
            f"/api/v1/projects/{account.project}/prompts", headers=account.headers(),
            json={"prompts": [{"slug": "b/two", "source": GREETING + "# batch\n"},
                              {"slug": "c/three", "source": GREETING}]})
        assert batch.status_code == 200, batch.get_json()
        clock = Clock()
        worker = Worker(lab.app, clock=clock)

        # Answering 500: only the first delivery of each prompt is tried (order per prompt).
        assert worker.drain() == 3
        assert sorted(r.event["slug"] for r in receiver.all()) == ["a/one", "b/two", "c/three"]
        # Down: connections refused.
        receiver.down()
        clock.advance(LONGEST_RETRY)
        assert worker.drain() == 3
        assert len(receiver.all()) == 3
        receiver.status = 200
        receiver.up()
        for _ in range(ROUNDS):
            clock.advance(LONGEST_RETRY)
            worker.drain()
            if not _pending(lab.app, webhook):
                break
        assert _pending(lab.app, webhook) == 0
    finally:
        receiver.down()

    with lab.app.app_context():
        project_id = db.session.scalar(select(Event.project_id).where(
            Event.action == "webhook.created", Event.details["id"].as_integer() == webhook))
        wanted = db.session.execute(select(Event.id, Event.slug).where(
            Event.project_id == project_id,
            Event.action.in_(["version.created", "label.moved"])).order_by(Event.id)).all()
    assert all(r.signed for r in receiver.all()), "every request carries a valid signature"
    accepted = receiver.accepted()
    ids = [r.delivery_id for r in accepted]
    assert len(ids) == len(set(ids)), "each delivery id accepted exactly once"
    assert sorted(r.event["id"] for r in accepted) == [row.id for row in wanted]
    for slug in {row.slug for row in wanted}:
        seen = [r.event["id"] for r in accepted if r.event["slug"] == slug]
        assert seen == sorted(seen), f"deliveries of {slug} out of order: {seen}"
    log = lab.app.test_client().get(
        f"/api/v1/projects/{account.project}/webhooks/{webhook}/deliveries?limit=1000",
        headers=account.headers()).get_json()["deliveries"]
    assert {d["status"] for d in log} == {"delivered"}
    heads = [d for d in log if d["attempts"] == 3]
    assert len(heads) == 3 and {d["response_code"] for d in log} == {200}


def test_a_webhook_failing_for_24_hours_is_disabled_with_an_event(lab: Lab) -> None:
    account = _project(lab, "fails")
    watcher = Receiver(SECRET)
    watcher.up()
    dead = Receiver(SECRET)
    dead.up()
    dead.down()  # a port nothing listens on
    try:
        failing = _hook(lab, account, dead.url, ["version.created"])
        _hook(lab, account, watcher.url, ["webhook.disabled"])
        _push(lab, account, "x/y", 1)
        clock = Clock()
        worker = Worker(lab.app, clock=clock)
        attempts = 0
        for _ in range(ROUNDS):
            attempts += worker.drain()
            clock.advance(LONGEST_RETRY)
            if watcher.accepted():
                break
        hook = lab.app.test_client().get(
            f"/api/v1/projects/{account.project}/webhooks/{failing}",
            headers=account.headers()).get_json()
        assert hook["enabled"] is False and "failing since" in hook["disabled_reason"]
        # Exponential backoff up to an hour: 10 s, 20 s, … then hourly, for 24 h.
        assert 20 <= attempts <= 40, attempts
        (told,) = watcher.accepted()
        assert told.action == "webhook.disabled" and told.event["details"]["id"] == failing
        assert told.event["details"]["host"] == "127.0.0.1"  # never the URL's token
        events = lab.app.test_client().get(f"/api/v1/projects/{account.project}/events",
                                           headers=account.headers()).get_json()["events"]
        assert events[0]["action"] == "webhook.disabled"
        # The delivery gave up once its 24 h were over.
        clock.advance(RETRY_FOR)
        log = lab.app.test_client().get(
            f"/api/v1/projects/{account.project}/webhooks/{failing}/deliveries",
            headers=account.headers()).get_json()["deliveries"]
        assert [d["status"] for d in log] == ["failed"]
        assert "ConnectionRefusedError" in log[0]["last_error"]
    finally:
        watcher.down()


def test_delivery_time_dns_answer_is_checked_again(lab: Lab) -> None:
    """Saved while its name resolved to a public address, the webhook's name now resolves to
    loopback (DNS rebinding): the delivery is refused and nothing is sent."""
    account = _project(lab, "rebind")
    receiver = Receiver(SECRET)
    receiver.up()
    try:
        webhook = _hook(lab, account, receiver.url, ["*"])
        with lab.app.app_context():  # as saved when the name resolved to a public address
            row = db.session.get(Webhook, webhook)
            assert row is not None
            row.url = receiver.url.replace("127.0.0.1", "rebind.example")
            db.session.commit()
        lab.app.config["WEBHOOK_ALLOW_PRIVATE"] = False
        try:
            worker = Worker(lab.app, resolver=lambda host, port: ["127.0.0.1"])
            assert worker.drain() == 1
        finally:
            lab.app.config["WEBHOOK_ALLOW_PRIVATE"] = True
        assert receiver.all() == []
        (log,) = lab.app.test_client().get(
            f"/api/v1/projects/{account.project}/webhooks/{webhook}/deliveries",
            headers=account.headers()).get_json()["deliveries"]
        assert log["status"] == "pending" and log["response_code"] is None
        assert "loopback" in log["last_error"]
    finally:
        receiver.down()


def test_redelivery_sends_the_event_again_under_a_new_id(lab: Lab) -> None:
    account = _project(lab, "again")
    receiver = Receiver(SECRET)
    receiver.up()
    try:
        webhook = _hook(lab, account, receiver.url, ["version.created"])
        _push(lab, account, "r/s", 1)
        worker = Worker(lab.app)
        assert worker.drain() == 1
        (first,) = receiver.accepted()
        web = lab.app.test_client()
        base = f"/api/v1/projects/{account.project}/webhooks/{webhook}/deliveries"
        again = web.post(f"{base}/{first.delivery_id}/redeliver", headers=account.headers())
        assert again.status_code == 202, again.get_json()
        assert again.get_json()["delivery"]["redelivery_of"] == first.delivery_id
        assert web.post(f"{base}/nope/redeliver", headers=account.headers()).status_code == 404
        assert worker.drain() == 1
        first_again, second = receiver.accepted()
        assert first_again == first and second.event == first.event
        assert second.delivery_id == again.get_json()["delivery"]["id"] != first.delivery_id
    finally:
        receiver.down()


def test_disabled_webhooks_get_no_rows_and_delete_drops_the_log(lab: Lab) -> None:
    account = _project(lab, "quiet")
    web = lab.app.test_client()
    webhook = _hook(lab, account, "http://127.0.0.1:9/hook", ["*"])
    base = f"/api/v1/projects/{account.project}/webhooks/{webhook}"
    off = web.patch(base, headers=account.headers(), json={"enabled": False})
    assert off.status_code == 200 and off.get_json()["enabled"] is False
    _push(lab, account, "q/r", 1)
    rows = web.get(f"{base}/deliveries", headers=account.headers()).get_json()["deliveries"]
    assert [r["action"] for r in rows] == ["webhook.created"]
    assert web.delete(base, headers=account.headers()).status_code == 204
    assert web.get(f"{base}/deliveries", headers=account.headers()).status_code == 404
    with lab.app.app_context():
        assert db.session.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.webhook_id == webhook)) is None


def test_backoff_doubles_to_an_hour() -> None:
    from webapi.webhooks.worker import backoff

    assert [backoff(n).total_seconds() for n in (1, 2, 3, 9, 10, 50)] == [
        10, 20, 40, 2560, 3600, 3600]
    assert backoff(1) * 2 == backoff(2) and RETRY_FOR == dt.timedelta(hours=24)
