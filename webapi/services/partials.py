"""Partials on the server (SPEC §13): includes resolved from the database at render and fetch,
refused at push when they make a cycle or name a missing prompt, and the prompts that include
one (its dependents), which archive and ``/-/dependents`` read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, literal, select, text

from promptsync.format.partials import (
    Expanded,
    Found,
    Lookup,
    PartialError,
    expand,
    has_includes,
    prompt_includes,
)
from promptsync.format.prompt import Prompt as FormatPrompt
from webapi.auth.principal import ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Label, Prompt, PromptVersion


def as_prompt(data: Mapping[str, Any]) -> FormatPrompt:
    """A stored version's parsed fields as the format's Prompt."""
    return FormatPrompt(**data)


def partials_column(source: object, data: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """What a version row keeps of its includes ([{slug, version, label}] as written), None
    when it has none; a source without "{{>" costs one substring test."""
    if not isinstance(source, str) or not has_includes(source):
        return None
    written = prompt_includes(as_prompt(data))
    return [{"slug": i.slug, "version": i.version, "label": i.label} for i in written] or None


def db_lookup(project: ProjectRef) -> Lookup:
    """The lookup of one project's stored versions: by number, by label, or the latest of a
    live prompt (an archived prompt's latest is missing, as its fetch is)."""

    def lookup(slug: str, version: int | None, label: str | None) -> Found | None:
        query = (select(PromptVersion.version, PromptVersion.sha256, PromptVersion.data)
                 .join(Prompt, Prompt.id == PromptVersion.prompt_id)
                 .where(Prompt.project_id == project.id, Prompt.slug == slug))
        if label is not None:
            query = query.join(Label, and_(Label.prompt_id == Prompt.id, Label.name == label,
                                           Label.version == PromptVersion.version))
        elif version is not None:
            query = query.where(PromptVersion.version == version)
        else:
            query = query.where(PromptVersion.version == Prompt.latest_version,
                                Prompt.archived_at.is_(None))
        if version is None:
            query = query.where(Prompt.archived_at.is_(None))
        row = db.session.execute(query).one_or_none()
        if row is None:
            return None
        return Found(as_prompt(row.data), row.version, row.sha256)

    return lookup


def refused(exc: PartialError) -> HttpError:
    """The 422 for an include that cannot be resolved, naming the chain."""
    return HttpError(422, f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "invalid_prompt",
                     chain=exc.chain, problems=[{"message": str(exc), "line": None,
                                                 "column": None}])


def expand_stored(project: ProjectRef, slug: str, data: Mapping[str, Any],
                  label: str | None) -> Expanded:
    """A stored version with its includes resolved (label: the one it was fetched by); 422
    when an include cannot be resolved now (its target archived, or its label removed)."""
    prompt = as_prompt(data)
    if not prompt_includes(prompt):
        return Expanded(prompt)
    try:
        return expand(slug, prompt, db_lookup(project), label)
    except PartialError as exc:
        raise refused(exc) from None


# pg_advisory_xact_lock key space of this module: INCLUDES_LOCK + the project's id.
INCLUDES_LOCK = 0x15_0000_0000


def lock_includes(project: ProjectRef) -> None:
    """Serialize, until the transaction ends, the pushes and archives of a project that could
    make a cycle or a missing target between them (two pushes closing a -> b -> a at once).
    SQLite's write lock, taken by the transaction's first write, does it already."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": INCLUDES_LOCK + project.id})


def check_push(project: ProjectRef, pushed: Mapping[str, Mapping[str, Any]]
               ) -> dict[str, HttpError]:
    """slug -> the 422 for each pushed source whose includes make a cycle or name a missing
    prompt; a latest include of another prompt of the same push sees that push's source."""
    stored = db_lookup(project)
    batch = {slug: as_prompt(data) for slug, data in pushed.items()}

    def lookup(slug: str, version: int | None, label: str | None) -> Found | None:
        if version is None and label is None and slug in batch:
            return Found(batch[slug], 0)
        return stored(slug, version, label)

    errors: dict[str, HttpError] = {}
    for slug, prompt in batch.items():
        if not prompt_includes(prompt):
            continue
        try:
            expand(slug, prompt, lookup)
        except PartialError as exc:
            errors[slug] = refused(exc)
    return errors


def dependent_uses(project: ProjectRef, slug: str) -> list[dict[str, Any]]:
    """The live prompts whose latest version, or a version one of their labels points at,
    includes ``slug`` (directly), sorted: [{slug, via: [{ref, version}]}], ref "latest" or
    the label's name (the shape of a fetch's ``includes`` item). A labelled version counts:
    archiving what production's version includes breaks production's fetch."""
    # The partials column (SQL NULL for a version that includes nothing) narrows it down.
    live = (Prompt.project_id == project.id, Prompt.archived_at.is_(None), Prompt.slug != slug,
            PromptVersion.partials.is_not(None))
    latest = db.session.execute(
        select(Prompt.slug, literal("latest"), PromptVersion.version, PromptVersion.partials)
        .join(PromptVersion, and_(PromptVersion.prompt_id == Prompt.id,
                                  PromptVersion.version == Prompt.latest_version))
        .where(*live))
    labelled = db.session.execute(
        select(Prompt.slug, Label.name, PromptVersion.version, PromptVersion.partials)
        .join(Label, Label.prompt_id == Prompt.id)
        .join(PromptVersion, and_(PromptVersion.prompt_id == Prompt.id,
                                  PromptVersion.version == Label.version))
        .where(*live))
    via: dict[str, list[dict[str, Any]]] = {}
    for includer, ref, version, partials in [*latest, *labelled]:
        if any(written["slug"] == slug for written in partials or ()):
            via.setdefault(includer, []).append({"ref": ref, "version": version})
    return [{"slug": includer, "via": sorted(uses, key=lambda u: (u["ref"] != "latest",
                                                                   u["ref"]))}
            for includer, uses in sorted(via.items())]


def dependents(project: ProjectRef, slug: str) -> list[str]:
    """The slugs of dependent_uses(), sorted."""
    return [use["slug"] for use in dependent_uses(project, slug)]


def uses_text(uses: list[dict[str, Any]]) -> str:
    """"'a' (latest v2, production v1), 'b' (staging v3)": who includes it, by which refs."""
    return ", ".join(
        f"'{use['slug']}' ("
        + ", ".join(f"{via['ref']} v{via['version']}" for via in use["via"]) + ")"
        for use in uses)
