"""Read-only queries the admin pages need beyond the API's service functions."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from ..auth import ProjectRef
from ..extensions import db
from ..models import Label, Prompt, PromptVersion

LIST_LIMIT = 2000
HISTORY_LIMIT = 200


@dataclass
class PromptRow:
    """One line of the prompt list."""

    slug: str
    version: int
    author: str
    updated_at: dt.datetime
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return self.slug.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.slug.rpartition("/")[2]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def prompt_rows(project: ProjectRef, q: str = "") -> tuple[list[PromptRow], bool]:
    """The project's prompts with latest version and labels, filtered by slug; (rows, more)."""
    query = (
        select(Prompt.id, Prompt.slug, Prompt.updated_at, PromptVersion.version,
               PromptVersion.author)
        .join(
            PromptVersion,
            (PromptVersion.prompt_id == Prompt.id)
            & (PromptVersion.version == Prompt.latest_version),
        )
        .where(Prompt.project_id == project.id)
        .order_by(Prompt.slug)
        .limit(LIST_LIMIT + 1)
    )
    if q:
        query = query.where(Prompt.slug.ilike(f"%{_escape_like(q.lower())}%", escape="\\"))
    rows = db.session.execute(query).all()
    more = len(rows) > LIST_LIMIT
    rows = rows[:LIST_LIMIT]
    labels: dict[int, dict[str, int]] = defaultdict(dict)
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), 500):  # keep IN lists short for every backend
        for prompt_id, name, number in db.session.execute(
            select(Label.prompt_id, Label.name, Label.version)
            .where(Label.prompt_id.in_(ids[start:start + 500]))
            .order_by(Label.name)
        ):
            labels[prompt_id][name] = number
    result = [
        PromptRow(slug, version, author, updated, labels.get(pid, {}))
        for pid, slug, updated, version, author in rows
    ]
    return result, more


def group_by_folder(rows: list[PromptRow]) -> list[tuple[str, list[PromptRow]]]:
    """Rows grouped by folder, top-level prompts first, folders in order."""
    groups: dict[str, list[PromptRow]] = defaultdict(list)
    for row in rows:
        groups[row.folder].append(row)
    return sorted(groups.items(), key=lambda item: (item[0] != "", item[0]))


def history(prompt_id: int) -> tuple[list[PromptVersion], dict[int, list[str]], bool]:
    """Newest versions first (sources not loaded), labels per version, and more."""
    rows = list(
        db.session.scalars(
            select(PromptVersion)
            .options(load_only(PromptVersion.version, PromptVersion.author,
                               PromptVersion.message, PromptVersion.created_at,
                               PromptVersion.sha256))
            .where(PromptVersion.prompt_id == prompt_id)
            .order_by(PromptVersion.version.desc())
            .limit(HISTORY_LIMIT + 1)
        )
    )
    labels: dict[int, list[str]] = defaultdict(list)
    for name, number in db.session.execute(
        select(Label.name, Label.version).where(Label.prompt_id == prompt_id).order_by(Label.name)
    ):
        labels[number].append(name)
    return rows[:HISTORY_LIMIT], labels, len(rows) > HISTORY_LIMIT


def label_map(prompt_id: int) -> dict[str, int]:
    """Every label of a prompt and the version it points at."""
    rows = db.session.execute(
        select(Label.name, Label.version).where(Label.prompt_id == prompt_id).order_by(Label.name)
    )
    return {name: number for name, number in rows}


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """Unified diff text as (css class, line) pairs for highlighting."""
    out: list[tuple[str, str]] = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        out.append((kind, line))
    return out


def pretty(value: Any) -> str:
    """JSON-ish values as compact readable text for the rendered view."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
