"""/metrics for issue 14 through the real app, on both databases: the open live subscribers
gauge goes up while a stream's body is open and down when it is closed, and the webhook worker's
recorded outcomes are counted (delivered to a loopback receiver, failed, disabled)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.server.test_ops import scrape, value
from tests.support.app import BACKENDS, GREETING, Account, make_account, running_app
from tests.support.module_database import backend_url
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Clock, Receiver
from webapi.live.registry import hub_of
from webapi.webhooks.worker import RETRY_FOR, Worker

SECRET = "s3cret-for-metrics-tests"
GAUGE = "promptsync_live_subscribers"
DELIVERIES = "promptsync_webhook_deliveries_total"


@pytest.fixture(scope="module", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Flask]:
    """One app per backend with metrics on, allowed to send webhooks to loopback."""
    url = backend_url(request, tmp_path_factory, "metrics")
    with running_app(url, METRICS_ENABLED=True, WEBHOOK_ALLOW_PRIVATE=True,
                     LIVE_KEEPALIVE_SECONDS=0.05, LIVE_LINGER_SECONDS=0.0) as application:
        yield application
        # The hub's thread reads the database: it ends before the database is dropped.
        hub = hub_of(application)
        wait_until(lambda: hub._thread is None, 10, "the hub's thread to end")  # noqa: SLF001


def _push(app: Flask, account: Account, n: int) -> None:
    answer = app.test_client().post(
        f"/api/v1/projects/{account.project}/prompts/a/one", headers=account.headers(),
        json={"source": GREETING + f"# {n}\n"})
    assert answer.status_code == 201, answer.get_json()


def test_the_subscribers_gauge_follows_open_streams(app: Flask) -> None:
    account = make_account(app, "gauge@example.com", "gauge")
    url = f"/api/v1/projects/{account.project}/events/stream"
    before = value(scrape(app), GAUGE)
    streams = [app.test_client().get(url, headers=account.headers()) for _ in range(2)]
    try:
        bodies = [iter(s.response) for s in streams]
        for stream, body in zip(streams, bodies, strict=True):
            assert stream.status_code == 200
            assert next(body).startswith(b"retry: ")  # the generator ran: it has subscribed
        assert value(scrape(app), GAUGE) == before + 2
        streams[0].close()  # a client gone: the body is closed, the subscriber dropped
        assert value(scrape(app), GAUGE) == before + 1
    finally:
        for stream in streams:
            stream.close()
    assert value(scrape(app), GAUGE) == before


def test_webhook_outcomes_are_counted(app: Flask) -> None:
    account = make_account(app, "counted@example.com", "counted")
    receiver = Receiver(SECRET)
    receiver.up()
    try:
        made = app.test_client().post(
            f"/api/v1/projects/{account.project}/webhooks", headers=account.headers(),
            json={"url": receiver.url, "events": ["version.created"], "secret": SECRET})
        assert made.status_code == 201, made.get_json()
        before = scrape(app)
        _push(app, account, 1)
        clock = Clock()  # now: the delivery is due
        worker = Worker(app, clock=clock)
        assert worker.drain() == 1
        assert [r.signed for r in receiver.all()] == [True]
        after = scrape(app)
        assert value(after, DELIVERIES, outcome="delivered") == \
            value(before, DELIVERIES, outcome="delivered") + 1
        assert value(after, DELIVERIES, outcome="failed") == \
            value(before, DELIVERIES, outcome="failed")

        receiver.status = 500  # failing now: one failure, then past 24 h the webhook is disabled
        _push(app, account, 2)
        clock.now = Clock().now
        assert worker.drain() == 1
        assert value(scrape(app), DELIVERIES, outcome="failed") == \
            value(before, DELIVERIES, outcome="failed") + 1
        clock.advance(RETRY_FOR)
        assert worker.drain() == 1
        last = scrape(app)
        assert value(last, DELIVERIES, outcome="disabled") == \
            value(before, DELIVERIES, outcome="disabled") + 1
        assert value(last, DELIVERIES, outcome="failed") == \
            value(before, DELIVERIES, outcome="failed") + 1
    finally:
        receiver.down()
