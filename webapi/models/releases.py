"""Releases: a version's later provenance, label moves, release settings, promotions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapi.extensions import db
from webapi.models.base import iso, utcnow


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
