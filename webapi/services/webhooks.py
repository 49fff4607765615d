"""A project's webhooks (admins only): create (the secret shown once), list, change, delete;
each webhook's delivery log, and redelivery of one delivery."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from webapi.auth.principal import ProjectAccess, ProjectRef
from webapi.characters import check_line
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Event, Webhook, WebhookDelivery, iso, utcnow
from webapi.services.events import log_event
from webapi.services.pages import newest_page
from webapi.webhooks import guard, outbox, signing

EVENT_NAME = re.compile(r"^[a-z][a-z_]{0,30}\.[a-z][a-z_]{0,30}$")
MAX_EVENTS = 50
SECRET_LENGTHS = (16, 200)
MAX_WEBHOOKS = 20  # per project: each event writes a row per webhook that wants it


def webhook_dict(webhook: Webhook) -> dict[str, Any]:
    """A webhook as the API shows it (never its secret)."""
    return {"id": webhook.id, "url": webhook.url, "events": list(webhook.events),
            "enabled": webhook.enabled, "created_by": webhook.created_by,
            "created_at": iso(webhook.created_at), "failing_since": iso(webhook.failing_since),
            "disabled_reason": webhook.disabled_reason}


def delivery_dict(row: WebhookDelivery) -> dict[str, Any]:
    """A delivery in the log: where it is, how many attempts, what the receiver last said."""
    return {"id": row.delivery_id, "event_id": row.event_id, "action": row.event.action,
            "slug": row.event.slug, "status": row.status, "attempts": row.attempts,
            "response_code": row.response_code, "last_error": row.last_error,
            "created_at": iso(row.created_at), "last_attempt_at": iso(row.last_attempt_at),
            "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
            "delivered_at": iso(row.delivered_at), "redelivery_of": row.redelivery_of}


def _url(value: object) -> str:
    if not isinstance(value, str):
        raise HttpError(400, "'url' must be a string.", field="url")
    check_line(value, "url")  # a C1 control passed the guard, from the admin's form
    try:
        guard.check(value, bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE")))
    except guard.Refused as exc:
        raise HttpError(400, f"'url' is refused: {exc}.", field="url") from None
    return value


def _events(value: object) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_EVENTS or any(
            not isinstance(v, str) or not (v == outbox.WILDCARD or EVENT_NAME.match(v))
            for v in value):
        raise HttpError(400, f"'events' must be a list of 1 to {MAX_EVENTS} event names such "
                             "as \"label.moved\", or [\"*\"] for every event.", field="events")
    return sorted(set(value))


def _secret(value: object) -> str:
    low, high = SECRET_LENGTHS
    if not isinstance(value, str) or not low <= len(value) <= high or not value.isprintable() \
            or not value.isascii() or value != value.strip():
        raise HttpError(400, f"'secret' must be {low} to {high} printable ASCII characters "
                             "(leave it out to have one made).", field="secret")
    return value


def _enabled(value: object) -> bool:
    if not isinstance(value, bool):
        raise HttpError(400, "'enabled' must be true or false.", field="enabled")
    return value


def _host(url: str) -> str:
    # Events are readable by viewers: they name the host, never the URL's path or query,
    # which may hold a receiver's token.
    return guard.parse(url)[1]


def create_webhook(access: ProjectAccess, url: object, events: object,
                   secret: object = None, enabled: object = None) -> dict[str, Any]:
    """Add a webhook; the answer carries its secret, which is never shown again."""
    project = access.project
    checked_url, wanted = _url(url), _events(events)
    key = signing.new_secret() if secret is None else _secret(secret)
    on = True if enabled is None else _enabled(enabled)
    count = db.session.scalar(select(func.count()).select_from(Webhook)
                              .where(Webhook.project_id == project.id)) or 0
    if count >= MAX_WEBHOOKS:
        raise HttpError(409, f"A project has at most {MAX_WEBHOOKS} webhooks; delete one first.")
    webhook = Webhook(project_id=project.id, url=checked_url, events=wanted, secret=key,
                      enabled=on, created_by=access.principal.actor, created_at=utcnow())
    db.session.add(webhook)
    db.session.flush()
    outbox.forget_targets()  # so a webhook for "*" is told of its own creation
    log_event(project.id, access.principal.actor, "webhook.created", None, id=webhook.id,
              host=_host(checked_url), events=wanted)
    db.session.commit()
    return {**webhook_dict(webhook), "secret": key}


def _find(project: ProjectRef, webhook_id: int) -> Webhook:
    webhook = db.session.scalar(select(Webhook).where(
        Webhook.id == webhook_id, Webhook.project_id == project.id))
    if webhook is None:
        raise HttpError(404, f"No webhook {webhook_id} in '{project.slug}'.")
    return webhook


def list_webhooks(project: ProjectRef) -> list[dict[str, Any]]:
    """The project's webhooks, oldest first."""
    rows = db.session.scalars(select(Webhook).where(Webhook.project_id == project.id)
                              .order_by(Webhook.id))
    return [webhook_dict(w) for w in rows]


def get_webhook(project: ProjectRef, webhook_id: int) -> dict[str, Any]:
    """One webhook, or 404."""
    return webhook_dict(_find(project, webhook_id))


def update_webhook(access: ProjectAccess, webhook_id: int, url: object = None,
                   events: object = None, enabled: object = None) -> dict[str, Any]:
    """Change a webhook's URL, events or enabled flag; enabling it again clears its failures
    and resumes its pending deliveries."""
    webhook = _find(access.project, webhook_id)
    changed: dict[str, Any] = {}
    if url is not None:
        webhook.url = _url(url)
        changed["host"] = _host(webhook.url)
    if events is not None:
        webhook.events = changed["events"] = _events(events)
    if enabled is not None:
        webhook.enabled = changed["enabled"] = _enabled(enabled)
        if webhook.enabled:
            webhook.failing_since = webhook.disabled_reason = None
    if not changed:
        raise HttpError(400, "Send at least one of 'url', 'events' and 'enabled'.")
    db.session.flush()
    outbox.forget_targets()
    log_event(access.project.id, access.principal.actor, "webhook.updated", None,
              id=webhook.id, **changed)
    db.session.commit()
    return webhook_dict(webhook)


def delete_webhook(access: ProjectAccess, webhook_id: int) -> None:
    """Delete a webhook and its delivery log; nothing more is sent to it."""
    webhook = _find(access.project, webhook_id)
    host = _host(webhook.url)
    db.session.delete(webhook)
    db.session.flush()
    outbox.forget_targets()
    log_event(access.project.id, access.principal.actor, "webhook.deleted", None,
              id=webhook_id, host=host)
    db.session.commit()


def list_deliveries(project: ProjectRef, webhook_id: int, limit: int,
                    before: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """A webhook's deliveries, newest first, older than the row id `before`; (page, next)."""
    _find(project, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    rows, more = newest_page(query, WebhookDelivery.id, limit, before)
    return [delivery_dict(r) for r in rows], (rows[-1].id if more else None)


def recent_deliveries(project: ProjectRef, per_webhook: int = 5
                      ) -> dict[int, list[dict[str, Any]]]:
    """The last few deliveries of each of the project's webhooks (the admin page)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for webhook_id in db.session.scalars(select(Webhook.id).where(
            Webhook.project_id == project.id)):
        found[webhook_id] = list_deliveries(project, webhook_id, per_webhook)[0]
    return found


def redeliver(access: ProjectAccess, webhook_id: int, delivery_id: str) -> dict[str, Any]:
    """Send a delivery's event again, as a new delivery (a new id, so a receiver that
    dedupes takes it), due now."""
    webhook = _find(access.project, webhook_id)
    original = db.session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.delivery_id == delivery_id))
    if original is None:
        raise HttpError(404, f"No delivery {delivery_id[:40]!r} of webhook {webhook_id}.")
    event = db.session.get(Event, original.event_id)
    assert event is not None  # the delivery's foreign key
    again = outbox.new_delivery(webhook.id, event, utcnow(), redelivery_of=original.delivery_id)
    db.session.add(again)
    db.session.commit()
    return delivery_dict(again)
