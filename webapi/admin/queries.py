"""Read-only queries the admin pages need beyond the shared services."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import load_only

from webapi.auth.principal import ProjectRef
from webapi.extensions import db
from webapi.models import Label, Prompt, PromptVersion
from webapi.services.catalog import Listed, PromptSummary, list_prompts

LIST_LIMIT = 2000
HISTORY_LIMIT = 200


PromptRow = PromptSummary


def prompt_rows(project: ProjectRef, q: str = "", listed: Listed = Listed.LIVE
                ) -> tuple[list[PromptRow], bool]:
    """The project's live (or archived) prompts with latest version and labels, filtered by
    slug; (rows, more)."""
    return list_prompts(project, LIST_LIMIT, contains=q, listed=listed)


def archived_at(prompt_id: int) -> dt.datetime | None:
    """When the prompt was archived, or None while it is live."""
    return db.session.scalar(select(Prompt.archived_at).where(Prompt.id == prompt_id))


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
