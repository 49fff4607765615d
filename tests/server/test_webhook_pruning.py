"""The webhook worker prunes its delivery log on both databases: deliveries delivered or given up
longer ago than WEBHOOK_DELIVERY_RETENTION_DAYS go, in bounded batches, from the worker's own
loop; pending ones and the events stay. Time is the worker's injected clock; the poster is a
stub (tests/server/test_webhook_delivery.py sends over the network)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.support.app import BACKENDS, GREETING, Account, make_account, running_app
from tests.support.module_database import backend_url
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Clock
from webapi.extensions import db
from webapi.models import Event, WebhookDelivery
from webapi.webhooks import delivery, guard
from webapi.webhooks.worker import RETRY_FOR, Worker

GOOD, BAD = "93.184.215.14", "93.184.215.15"  # public addresses: no WEBHOOK_ALLOW_PRIVATE
DAY = dt.timedelta(days=1)


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Flask]:
    url = backend_url(request, tmp_path_factory, "pruning")
    with running_app(url) as made:
        yield made


def post(target: guard.Target, _headers: dict[str, str], _body: bytes) -> delivery.Outcome:
    """The receiver at GOOD answers 200, the one at BAD 500."""
    return delivery.Outcome(200 if target.address == GOOD else 500, None, 0.0)


def worker(app: Flask, clock: Clock) -> Worker:
    return Worker(app, clock=clock, resolver=lambda host, port: [host], poster=post)


def counts(app: Flask) -> dict[str, int]:
    """Deliveries by status, and the events (never pruned)."""
    with app.app_context():
        rows = db.session.execute(select(WebhookDelivery.status, func.count())
                                  .group_by(WebhookDelivery.status)).all()
        found = {str(status): int(n) for status, n in rows}
        found["events"] = int(db.session.scalar(select(func.count()).select_from(Event)) or 0)
        return found


def hook(app: Flask, account: Account, address: str) -> None:
    made = app.test_client().post(f"/api/v1/projects/{account.project}/webhooks",
                                  headers=account.headers(),
                                  json={"url": f"https://{address}/hook",
                                        "events": ["version.created"]})
    assert made.status_code == 201, made.get_json()


def push(app: Flask, account: Account, slug: str, n: int) -> None:
    answer = app.test_client().post(f"/api/v1/projects/{account.project}/prompts/{slug}",
                                    headers=account.headers(),
                                    json={"source": GREETING + f"# {n}\n"})
    assert answer.status_code == 201, answer.get_json()


def finished_and_pending(app: Flask) -> Clock:
    """Three deliveries delivered; one given up past its 24 h, which disables its webhook (its
    two later deliveries stay pending); then one more pending. The clock the worker used."""
    account = make_account(app, "hooks@example.com", "hooks")
    hook(app, account, GOOD)
    hook(app, account, BAD)
    for n in range(3):
        push(app, account, f"p{n}", n)
    clock = Clock()
    clock.advance(RETRY_FOR + dt.timedelta(minutes=1))  # BAD's single attempts are its last
    assert worker(app, clock).drain() == 4
    push(app, account, "later", 0)  # GOOD's, due now by the real clock
    assert {k: v for k, v in counts(app).items() if k != "events"} == {
        "delivered": 3, "failed": 1, "pending": 3}
    return clock


def test_finished_deliveries_past_the_retention_go_in_bounded_batches(app: Flask) -> None:
    clock = finished_and_pending(app)
    events = counts(app)["events"]
    # Their last attempts fell due a day before this clock (now + 25 h): 29 days ago, after this.
    clock.advance(28 * DAY)
    assert worker(app, clock).prune() == 0
    clock.advance(2 * DAY)
    assert worker(app, clock).prune(most=3) == 3
    assert worker(app, clock).prune(most=3) == 1
    assert worker(app, clock).prune(most=3) == 0
    assert counts(app) == {"pending": 3, "events": events}


def test_a_retention_of_zero_keeps_every_delivery(app: Flask) -> None:
    clock = finished_and_pending(app)
    app.config["WEBHOOK_DELIVERY_RETENTION_DAYS"] = 0
    clock.advance(3650 * DAY)
    assert worker(app, clock).prune() == 0
    assert counts(app)["delivered"] == 3


def test_the_running_worker_prunes_without_being_asked(app: Flask) -> None:
    clock = finished_and_pending(app)
    clock.advance(40 * DAY)
    running = worker(app, clock)
    stop = threading.Event()
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    try:
        # GOOD's pending one is sent (and, by this clock, may be pruned in turn; the disabled
        # webhook's two stay pending); the four old ones are gone either way.
        wait_until(lambda: (now := counts(app)).get("pending") == 2 and
                   now.get("delivered", 0) + now.get("failed", 0) <= 1, 10,
                   lambda: f"the old deliveries pruned, the new ones sent: {counts(app)}")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
