"""The webhook outbox: a delivery row per event and webhook, written in the event's own
transaction (so a committed event is never without its deliveries, nor a delivery without its
event), claimed by workers under a lease, and then its log."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.orm import aliased

from webapi.extensions import db
from webapi.models import Event, Webhook, WebhookDelivery, utcnow

WILDCARD = "*"
_TARGETS = "webhook_targets"  # the session.info key of the per-transaction cache
_OUTCOMES = "promptsync.webhook_outcomes"  # the app.extensions key of the outcome callback


class Status(enum.StrEnum):
    """Where a delivery is: waiting (or being sent), sent, or given up after 24 h."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def count_outcomes(app: Flask, counted: Callable[[str], None]) -> None:
    """Tell `counted` of each attempt the app's workers record: 'delivered', 'failed', or
    'disabled' (it failed and disabled its webhook). ops/metrics.py counts them."""
    app.extensions[_OUTCOMES] = counted


def outcome_counter(app: Flask) -> Callable[[str], None] | None:
    """The callback count_outcomes gave this app, if any."""
    counted = app.extensions.get(_OUTCOMES)
    return counted if callable(counted) else None


def _targets(project_id: int) -> list[tuple[int, list[str]]]:
    """(webhook id, its events) of the project's enabled webhooks, read once per transaction:
    a batch push logs hundreds of events and asks once."""
    session = db.session()  # the scoped session's own Session (get_transaction is not proxied)
    cached: tuple[object, dict[int, list[tuple[int, list[str]]]]] | None = \
        session.info.get(_TARGETS)
    transaction = session.get_transaction()
    if cached is not None and transaction is not None and cached[0] is transaction \
            and project_id in cached[1]:
        return list(cached[1][project_id])
    with session.no_autoflush:  # the caller's pending rows are flushed with the event, later
        rows = session.execute(select(Webhook.id, Webhook.events).where(
            Webhook.project_id == project_id, Webhook.enabled.is_(True)))
        found = [(row.id, list(row.events)) for row in rows]
    transaction = session.get_transaction()  # the query began one if none was open
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        session.info[_TARGETS] = cached
    cached[1][project_id] = found
    return found


def forget_targets() -> None:
    """Drop the cached webhooks of this transaction (after a webhook was added or changed)."""
    db.session.info.pop(_TARGETS, None)


def enqueue(event: Event) -> None:
    """Add a pending delivery of the event for every enabled webhook of its project that asked
    for its action; the caller's commit makes them durable together with the event."""
    now = utcnow()
    for webhook_id, wanted in _targets(event.project_id):
        if WILDCARD in wanted or event.action in wanted:
            db.session.add(new_delivery(webhook_id, event, now))


def watched(project_id: int) -> bool:
    """Whether any enabled webhook of the project may want an event (cached per transaction)."""
    return bool(_targets(project_id))


def enqueue_rows(project_id: int, events: list[tuple[int, str, str | None]]) -> None:
    """Pending deliveries for events inserted in bulk: (event id, action, slug) each."""
    now = utcnow()
    rows = [
        {"delivery_id": str(uuid.uuid4()), "webhook_id": webhook_id, "event_id": event_id,
         "order_key": slug or "", "status": Status.PENDING.value, "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for event_id, action, slug in events
        for webhook_id, wanted in _targets(project_id)
        if WILDCARD in wanted or action in wanted
    ]
    if rows:
        db.session.execute(insert(WebhookDelivery.__table__), rows)


def new_delivery(webhook_id: int, event: Event, now: dt.datetime,
                 redelivery_of: str | None = None) -> WebhookDelivery:
    """A pending delivery row, due now."""
    return WebhookDelivery(
        delivery_id=str(uuid.uuid4()), webhook_id=webhook_id, event=event,
        order_key=event.slug or "", status=Status.PENDING, attempts=0, next_attempt_at=now,
        redelivery_of=redelivery_of, created_at=now)


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds until `leased_until`: what to send and where."""

    id: int
    delivery_id: str
    token: str
    webhook_id: int
    url: str
    secret: str
    action: str
    body: bytes
    attempts: int  # including this one
    created_at: dt.datetime


def event_body(event: Event) -> bytes:
    """The delivery's body: the event's JSON as GET /events shows it."""
    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


def claim(now: dt.datetime, lease: dt.timedelta, limit: int = 1) -> list[Claim]:
    """Take up to `limit` due deliveries, each the earliest pending one of its webhook and
    prompt, and lease them; commits. On Postgres, rows another worker is claiming are skipped
    (FOR UPDATE SKIP LOCKED), and the lease is set only on a row still free, so two workers
    never hold one delivery."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.webhook_id == WebhookDelivery.webhook_id,
        earlier.order_key == WebhookDelivery.order_key,
        earlier.status == Status.PENDING, earlier.id < WebhookDelivery.id)
    free = or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now)
    query = (select(WebhookDelivery.id).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
             .where(WebhookDelivery.status == Status.PENDING,
                    WebhookDelivery.next_attempt_at <= now, free, Webhook.enabled.is_(True),
                    ~blocked)
             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
    claims = []
    try:
        for row_id in list(db.session.scalars(query)):
            token = str(uuid.uuid4())
            taken = db.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row_id, WebhookDelivery.status == Status.PENDING,
                       free)
                .values(leased_until=now + lease, lease_token=token, last_attempt_at=now,
                        attempts=WebhookDelivery.attempts + 1))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue
            delivery = db.session.get(WebhookDelivery, row_id, populate_existing=True)
            assert delivery is not None
            webhook = db.session.get(Webhook, delivery.webhook_id)
            assert webhook is not None
            claims.append(Claim(row_id, delivery.delivery_id, token, webhook.id, webhook.url,
                                webhook.secret, delivery.event.action,
                                event_body(delivery.event), delivery.attempts,
                                delivery.created_at))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return claims


def record(claim: Claim, delivered: bool, status_code: int | None, error: str | None,
           now: dt.datetime, retry_at: dt.datetime | None) -> bool:
    """Write an attempt's outcome into the delivery's log (pending again until retry_at, or
    delivered, or failed when retry_at is None); False when the lease was lost meanwhile.
    Part of the caller's transaction."""
    if delivered:
        values = {"status": Status.DELIVERED, "delivered_at": now}
    elif retry_at is not None:
        values = {"status": Status.PENDING, "next_attempt_at": retry_at}
    else:
        values = {"status": Status.FAILED}
    done = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == claim.id, WebhookDelivery.lease_token == claim.token)
        .values(response_code=status_code, last_error=error, leased_until=None,
                lease_token=None, **values))
    return done.rowcount == 1  # type: ignore[attr-defined]


def prune(cutoff: dt.datetime, most: int) -> int:
    """Delete up to `most` deliveries that ended (delivered or given up) before `cutoff`: the
    outbox's log would otherwise grow by a row per event and webhook for good. Commits."""
    # next_attempt_at is when a finished delivery's last attempt fell due (its first, when it
    # went out at once), and (status, next_attempt_at) is indexed for the claim: each batch
    # reads a range of that index, never the whole table. Pending rows are never touched.
    batch = (select(WebhookDelivery.id)
             .where(WebhookDelivery.status.in_([Status.DELIVERED, Status.FAILED]),
                    WebhookDelivery.next_attempt_at < cutoff)
             .order_by(WebhookDelivery.next_attempt_at).limit(most))
    try:
        gone = db.session.execute(delete(WebhookDelivery)
                                  .where(WebhookDelivery.id.in_(batch.scalar_subquery()))
                                  .execution_options(synchronize_session=False))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return int(gone.rowcount)  # type: ignore[attr-defined]

