"""The webhook worker: claims due deliveries from the outbox, signs and sends each, records the
outcome, retries with exponential backoff for 24 h, disables a webhook that has failed for 24 h,
and prunes finished deliveries past their retention. Run with `flask --app webapi webhooks run`
or `python -m webapi.webhooks`; several may run at once on Postgres."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from webapi.extensions import db
from webapi.models import Webhook, iso, utcnow
from webapi.services.events import log_event
from webapi.webhooks import delivery, guard, outbox, signing

log = logging.getLogger(__name__)

RETRY_FOR = dt.timedelta(hours=24)  # a delivery's retries, and a webhook's failures, end here
FIRST_RETRY = dt.timedelta(seconds=10)
LONGEST_RETRY = dt.timedelta(hours=1)
LEASE = dt.timedelta(seconds=60)  # well past a POST's connect and read timeouts
IDLE_WAIT = 0.1  # seconds between looks at an empty outbox (an indexed query, ~1 ms)
PRUNE_EVERY = dt.timedelta(minutes=10)  # how often finished deliveries past retention go
PRUNE_BATCH = 500  # deliveries deleted in one transaction: short locks, between the sends
ACTOR = "promptsync"

Clock = Callable[[], dt.datetime]
Poster = Callable[[guard.Target, dict[str, str], bytes], delivery.Outcome]


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the attempts-th failure: 10 s, 20 s, 40 s … at most 1 h."""
    return min(FIRST_RETRY * 2 ** min(attempts - 1, 20), LONGEST_RETRY)


class Worker:
    """Sends the outbox of the app's database; the clock, resolver and poster are injectable."""

    def __init__(self, app: Flask, clock: Clock = utcnow,
                 resolver: guard.Resolver = guard.system_resolver,
                 poster: Poster = delivery.post, idle_wait: float = IDLE_WAIT) -> None:
        self.app = app
        self.clock = clock
        self.resolver = resolver
        self.poster = poster
        self.idle_wait = idle_wait

    def run_once(self, limit: int = 1) -> int:
        """Claim and send up to `limit` due deliveries; how many were claimed."""
        with self.app.app_context():
            claims = outbox.claim(self.clock(), LEASE, limit)
            for claim in claims:
                self._deliver(claim)
        return len(claims)

    def drain(self, most: int = 10_000) -> int:
        """Send until nothing is due (at most `most`); how many attempts were made."""
        sent = 0
        while sent < most and self.run_once():
            sent += 1
        return sent

    def prune(self, most: int = PRUNE_BATCH) -> int:
        """Delete up to `most` deliveries finished longer ago than WEBHOOK_DELIVERY_RETENTION_DAYS
        (0 keeps them all); how many went."""
        days = float(self.app.config.get("WEBHOOK_DELIVERY_RETENTION_DAYS", 30))
        if days <= 0:
            return 0
        with self.app.app_context():
            return outbox.prune(self.clock() - dt.timedelta(days=days), most)

    def prune_all(self, batches: int = 1000) -> int:
        """Prune batch after batch until one comes back short (at most `batches`)."""
        total = 0
        for _ in range(batches):
            gone = self.prune()
            total += gone
            if gone < PRUNE_BATCH:
                break
        return total

    def run(self, stop: threading.Event) -> None:
        """Send as deliveries fall due until `stop` is set; a failing database is retried.
        Every PRUNE_EVERY old deliveries are pruned, a batch between two sends until none are
        left."""
        prune_at = self.clock()
        while not stop.is_set():
            try:
                busy = self.run_once()
                if self.clock() >= prune_at:
                    full = self.prune() == PRUNE_BATCH  # then more are left: again next turn
                    prune_at = self.clock() + (dt.timedelta(0) if full else PRUNE_EVERY)
            except Exception:  # the database went away: say so, wait, and try again
                log.exception("webhook worker: could not reach the outbox")
                busy = 0
            if not busy:
                stop.wait(self.idle_wait)

    def _deliver(self, claim: outbox.Claim) -> None:
        allow_private = bool(self.app.config.get("WEBHOOK_ALLOW_PRIVATE"))
        try:
            # Resolved again now, and the POST goes to this address: DNS rebinding after the
            # webhook was saved does not reach a private address.
            target = guard.check(claim.url, allow_private, self.resolver)
        except guard.Refused as exc:
            outcome = delivery.Outcome(None, f"refused: {exc}"[:300], 0.0)
        else:
            timestamp = int(time.time())  # the receiver compares it with its own clock
            headers = signing.headers(claim.secret, timestamp, claim.body, claim.action,
                                      claim.delivery_id)
            outcome = self.poster(target, headers, claim.body)
        self._record(claim, outcome)

    def _record(self, claim: outbox.Claim, outcome: delivery.Outcome) -> None:
        now = self.clock()
        retry_at = None
        give_up_at = claim.created_at + RETRY_FOR
        if not outcome.ok and now < give_up_at:
            # The last try falls at the end of the 24 h, not before it.
            retry_at = min(now + backoff(claim.attempts), give_up_at)
        try:
            if not outbox.record(claim, outcome.ok, outcome.status, outcome.error, now,
                                 retry_at):
                db.session.rollback()  # deleted, or its lease ran out and another took it
                return
            webhook = db.session.get(Webhook, claim.webhook_id)
            disabled = False
            if webhook is not None:
                was_enabled = webhook.enabled
                self._follow(webhook, claim, outcome, now)
                disabled = was_enabled and not webhook.enabled
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        counted = outbox.outcome_counter(self.app)
        if counted is not None:  # counted once committed: a rolled-back record is not an outcome
            counted("delivered" if outcome.ok else "disabled" if disabled else "failed")
        if outcome.ok:
            log.info("webhook %s: delivered %s (%s) in %.0f ms", claim.webhook_id,
                     claim.delivery_id, outcome.status, outcome.seconds * 1000)
        else:
            log.warning("webhook %s: delivery %s attempt %d failed: %s; %s", claim.webhook_id,
                        claim.delivery_id, claim.attempts, outcome.error,
                        f"next at {iso(retry_at)}" if retry_at else "given up")

    def _follow(self, webhook: Webhook, claim: outbox.Claim, outcome: delivery.Outcome,
                now: dt.datetime) -> None:
        """A success ends the webhook's failing streak; 24 h of failures disable it."""
        if outcome.ok:
            webhook.failing_since = None
            return
        if webhook.failing_since is None:
            # Failing since the undelivered event was due: so the delivery's last try, at the
            # end of its 24 h, is also the end of the webhook's 24 h.
            webhook.failing_since = min(claim.created_at, now)
        if webhook.enabled and now - webhook.failing_since >= RETRY_FOR:
            webhook.enabled = False
            webhook.disabled_reason = f"failing since {iso(webhook.failing_since)}: " \
                                      f"{outcome.error or 'no answer'}"[:300]
            db.session.flush()
            outbox.forget_targets()
            log_event(webhook.project_id, ACTOR, "webhook.disabled", None, id=webhook.id,
                      host=guard.parse(webhook.url)[1], failing_since=iso(webhook.failing_since),
                      last_error=outcome.error)


def serve(app: Flask, stop: threading.Event | None = None) -> None:
    """Run a worker until SIGTERM or SIGINT (or `stop`): the production process."""
    stop = stop or threading.Event()

    def finish(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    log.info("webhook worker: sending deliveries (stop with SIGTERM)")
    Worker(app).run(stop)


cli = AppGroup("webhooks", help="Webhook deliveries.")


@cli.command("run")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@with_appcontext
def run_command(once: bool) -> None:
    """Send webhook deliveries from the outbox (several workers may run on Postgres)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if once:
        worker = Worker(app)
        click.echo(f"{worker.drain()} attempts made")
        click.echo(f"{worker.prune_all()} finished deliveries past their retention removed")
        return
    serve(app)
