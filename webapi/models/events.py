"""The project's event log and the webhooks it feeds, with their deliveries (the outbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapi.extensions import db
from webapi.models.base import iso, utcnow


class Event(db.Model):  # type: ignore[name-defined]
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_project_id_id", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(40))
    slug: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "slug": self.slug,
            "actor": self.actor,
            "details": self.details,
            "created_at": iso(self.created_at),
        }


class Webhook(db.Model):  # type: ignore[name-defined]
    """An admin's subscription of a URL to a project's events (SPEC §12)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    # Event actions ("label.moved", …) or ["*"] for every one.
    events: Mapped[list[str]] = mapped_column(JSON)
    # Kept as given: the worker needs it to sign (see docs/SECURITY.md); never shown again.
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # The first failed attempt since the last success: 24 h of failures disable the webhook.
    failing_since: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)


class WebhookDelivery(db.Model):  # type: ignore[name-defined]
    """One event to send to one webhook: the outbox row, written in the event's transaction,
    and afterwards its delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The worker's claim: due pending rows, and the earlier pending row of the same prompt.
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_order", "webhook_id", "order_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # X-Promptsync-Delivery: receivers drop a delivery id they have already handled.
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    # Deliveries of one webhook with the same key go out in event order: the prompt's slug
    # (or "" for the project's own events).
    order_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Held by the worker sending it (and its token), so that no other worker sends it too.
    leased_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    redelivery_of: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    event: Mapped[Event] = relationship()
