"""Database models: users, projects, memberships, invitations, keys, prompts, versions, their
later provenance, labels, label history, release settings, promotion requests, webhooks and
their deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapi.extensions import db

ROLES = ("viewer", "editor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


def utcnow() -> dt.datetime:
    """Naive UTC now: stored the same way on SQLite and Postgres."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    # Bumped on logout and password change so every copy of an old session cookie dies.
    session_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    # flask-login protocol (written out rather than UserMixin to carry the generation).
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_generation}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "created_at": iso(self.created_at)}


class Project(db.Model):  # type: ignore[name-defined]
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Membership(db.Model):  # type: ignore[name-defined]
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    project: Mapped[Project] = relationship()


class Invitation(db.Model):  # type: ignore[name-defined]
    """A pending offer of a role, to an email (not a user: it may sign up later)."""

    __tablename__ = "invitations"
    # One pending invitation per email and project: inviting again replaces it.
    __table_args__ = (UniqueConstraint("project_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(10))
    invited_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)

    project: Mapped[Project] = relationship()


class ApiKey(db.Model):  # type: ignore[name-defined]
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(10))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    project: Mapped[Project] = relationship()
    created_by: Mapped[User] = relationship()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "prefix": self.prefix,
            "created_at": iso(self.created_at),
            "last_used_at": iso(self.last_used_at),
            "created_by": self.created_by.email,
        }


class Prompt(db.Model):  # type: ignore[name-defined]
    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("project_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(200))
    # The version counter: bumped with UPDATE ... RETURNING as the first statement of the
    # transaction that inserts a version, which serialises concurrent pushers on both databases.
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Set while the prompt is archived: out of the manifest, 410 by latest or label, its
    # versions kept (and fetchable by number). A push or a restore clears it.
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class PromptVersion(db.Model):  # type: ignore[name-defined]
    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("prompt_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    # The parsed prompt (Prompt.to_dict()), kept so that a fetch never re-parses YAML.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    author: Mapped[str] = mapped_column(String(300))
    git: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # "<old slug>@v<N>" on the version a rename created; None otherwise.
    renamed_from: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The partials it includes as written, [{slug, version, label}], or None when it includes
    # none: the fetch reads it beside the hash, so a prompt without includes costs nothing more.
    partials: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True),
                                                                   nullable=True)


class VersionProvenance(db.Model):  # type: ignore[name-defined]
    """Git provenance reported for an existing version after it was pushed: a clean checkout
    whose file holds the version's bytes (``promptsync label``). The version itself, and its
    own ``git``, never change."""

    __tablename__ = "version_provenance"
    __table_args__ = (Index("ix_version_provenance_prompt_id_version", "prompt_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    git: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Label(db.Model):  # type: ignore[name-defined]
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("prompt_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


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


class LoginThrottle(db.Model):  # type: ignore[name-defined]
    """Failed logins per email, in the database so the limit holds across worker processes."""

    __tablename__ = "login_throttle"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    # Counted atomically before the password is checked (webapi.services.accounts), so a check
    # in progress counts as a failure; a success deletes the row.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LabelMove(db.Model):  # type: ignore[name-defined]
    """One move of a label: created (from None), moved, or removed (to None)."""

    __tablename__ = "label_moves"
    __table_args__ = (Index("ix_label_moves_prompt_id_label_id", "prompt_id", "label", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(63))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "from_version": self.from_version, "to_version": self.to_version,
                "actor": self.actor, "at": iso(self.created_at), "reason": self.reason}


class ProjectSettings(db.Model):  # type: ignore[name-defined]
    """A project's release settings; a project without a row has the defaults."""

    __tablename__ = "project_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    protected_labels: Mapped[list[str]] = mapped_column(JSON)
    approvals_required: Mapped[int] = mapped_column(Integer, default=0)
    protected_requires_clean_commit: Mapped[bool] = mapped_column(Boolean, default=False)
    protected_branches: Mapped[list[str]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Promotion(db.Model):  # type: ignore[name-defined]
    """A request to move (or remove) a protected label, waiting for other admins' approval."""

    __tablename__ = "promotions"
    __table_args__ = (Index("ix_promotions_project_id_state_id", "project_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(63))
    # The version asked for and its hash (both None: a request to remove the label).
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Where the label pointed when the request was opened: approval moves it only from there.
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(300))
    # The person behind the request (a key's creator), who may not approve it.
    requested_by_user_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10))
    approvals_required: Mapped[int] = mapped_column(Integer)
    # [{"by": actor, "user_id": id, "at": iso}], one per approving admin.
    approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(300), nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


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
