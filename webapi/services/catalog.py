"""The list of a project's prompts with their latest version and labels (API and admin)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import select

from webapi.auth.principal import ProjectRef
from webapi.extensions import db
from webapi.models import Label, Prompt, PromptVersion

IN_CHUNK = 500  # keeps IN lists short for every backend


class Listed(Enum):
    """Which prompts a list holds: the live ones (the manifest), all, or the archived ones."""

    LIVE = "live"
    ALL = "all"
    ARCHIVED = "archived"


@dataclass
class PromptSummary:
    """One prompt at its latest version."""

    slug: str
    version: int
    sha256: str
    author: str
    updated_at: dt.datetime
    labels: dict[str, int] = field(default_factory=dict)
    source: str | None = None
    archived_at: dt.datetime | None = None

    @property
    def folder(self) -> str:
        return self.slug.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.slug.rpartition("/")[2]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_prompts(
    project: ProjectRef,
    limit: int,
    after: str | None = None,
    contains: str = "",
    with_source: bool = False,
    listed: Listed = Listed.LIVE,
) -> tuple[list[PromptSummary], bool]:
    """Prompts ordered by slug after a cursor, optionally filtered; (page, more after it)."""
    columns = [Prompt.id, Prompt.slug, Prompt.updated_at, PromptVersion.version,
               PromptVersion.sha256, PromptVersion.author, Prompt.archived_at]
    if with_source:
        columns.append(PromptVersion.source)
    query = (
        select(*columns)
        .join(PromptVersion, (PromptVersion.prompt_id == Prompt.id)
              & (PromptVersion.version == Prompt.latest_version))
        .where(Prompt.project_id == project.id)
        .order_by(Prompt.slug)
        .limit(limit + 1)
    )
    if listed is Listed.LIVE:
        query = query.where(Prompt.archived_at.is_(None))
    elif listed is Listed.ARCHIVED:
        query = query.where(Prompt.archived_at.is_not(None))
    if after is not None:
        query = query.where(Prompt.slug > after)
    if contains:
        pattern = f"%{_escape_like(contains.lower())}%"
        query = query.where(Prompt.slug.ilike(pattern, escape="\\"))
    rows: list[Any] = list(db.session.execute(query).all())
    more = len(rows) > limit
    rows = rows[:limit]
    labels: dict[int, dict[str, int]] = defaultdict(dict)
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), IN_CHUNK):
        for prompt_id, name, number in db.session.execute(
            select(Label.prompt_id, Label.name, Label.version)
            .where(Label.prompt_id.in_(ids[start:start + IN_CHUNK]))
            .order_by(Label.name)
        ):
            labels[prompt_id][name] = number
    page = [
        PromptSummary(slug=row[1], version=row[3], sha256=row[4], author=row[5],
                      updated_at=row[2], labels=labels.get(row[0], {}), archived_at=row[6],
                      source=row[7] if with_source else None)
        for row in rows
    ]
    return page, more
