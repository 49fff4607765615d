"""Prompts, their versions and their labels."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapi.extensions import db
from webapi.models.base import utcnow


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


class Label(db.Model):  # type: ignore[name-defined]
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("prompt_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
