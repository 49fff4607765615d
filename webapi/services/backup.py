"""Project export and import: every prompt, version, label and event, and the releases (label
history, settings, promotion requests), as one JSON document."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from promptsync.format.prompt import slug_problem
from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import (
    Event,
    Label,
    Project,
    Prompt,
    PromptVersion,
    VersionProvenance,
    iso,
    utcnow,
)
from webapi.services import backup_fields as check
from webapi.services.backup_releases import (
    Releases,
    export_releases,
    import_releases,
    parse_releases,
)
from webapi.services.events import log_event
from webapi.services.partials import partials_column
from webapi.services.provenance import check_git
from webapi.services.versions import LABEL_RE, validate_source

FORMAT = "promptsync-export"
FORMAT_VERSION = 1


def export_project(project: ProjectRef) -> dict[str, Any]:
    """The whole project: prompts by slug, their versions in order, labels, events oldest first."""
    row = db.session.get(Project, project.id)
    assert row is not None
    prompts = list(db.session.scalars(
        select(Prompt).where(Prompt.project_id == project.id, Prompt.latest_version > 0)
        .order_by(Prompt.slug)))
    ids = [p.id for p in prompts]
    later = _later_provenance(ids)
    versions: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for v in db.session.scalars(select(PromptVersion).where(PromptVersion.prompt_id.in_(ids))
                                .order_by(PromptVersion.prompt_id, PromptVersion.version)):
        versions[v.prompt_id].append({
            "version": v.version, "sha256": v.sha256, "source": v.source, "message": v.message,
            "author": v.author, "created_at": iso(v.created_at), "git": v.git,
            "renamed_from": v.renamed_from})
        if (v.prompt_id, v.version) in later:  # the key only when there is some: older form
            versions[v.prompt_id][-1]["provenance"] = later[v.prompt_id, v.version]
    labels: dict[int, dict[str, int]] = defaultdict(dict)
    for label in db.session.scalars(select(Label).where(Label.prompt_id.in_(ids))
                                    .order_by(Label.name)):
        labels[label.prompt_id][label.name] = label.version
    events = [
        {"action": e.action, "slug": e.slug, "actor": e.actor, "details": e.details,
         "created_at": iso(e.created_at)}
        for e in db.session.scalars(select(Event).where(Event.project_id == project.id)
                                    .order_by(Event.id))
    ]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": iso(utcnow()),
        "project": {"slug": row.slug, "name": row.name, "created_at": iso(row.created_at)},
        "prompts": [
            {"slug": p.slug, "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
             "archived_at": iso(p.archived_at), "versions": versions[p.id],
             "labels": labels[p.id]}
            for p in prompts
        ],
        "events": events,
        **export_releases(project.id, {p.id: p.slug for p in prompts}),
    }


def _later_provenance(ids: list[int]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """(prompt id, version) -> the provenance reported for it after its push, oldest first."""
    found: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for row in db.session.scalars(select(VersionProvenance).where(
            VersionProvenance.prompt_id.in_(ids)).order_by(VersionProvenance.id)):
        found[row.prompt_id, row.version].append(
            {"git": row.git, "actor": row.actor, "created_at": iso(row.created_at)})
    return found


def _provenance_rows(given: object, where: str) -> list[dict[str, Any]]:
    rows = []
    for item in check.listed(given, f"{where} provenance"):
        git = _git(item.get("git"), f"{where} provenance")
        if git is None:
            raise check.bad(f"{where} provenance", "git must be an object")
        rows.append({"git": git, "actor": check.text(item.get("actor"), where, "actor", 300),
                     "created_at": check.time(item.get("created_at"), where)})
    return rows


def _git(value: object, where: str) -> dict[str, Any] | None:
    # The shape a push must have: a backup is restored only with what a push would store.
    try:
        return check_git(value)
    except HttpError as exc:
        raise check.bad(where, exc.detail.rstrip(".")) from None


def _version_rows(slug: str, given: object) -> list[dict[str, Any]]:
    if not isinstance(given, list) or not given:
        raise check.bad(slug, "versions must be a non-empty list")
    rows = []
    for number, item in enumerate(given, start=1):
        where = f"{slug} v{number}"
        if not isinstance(item, dict) or item.get("version") != number:
            raise check.bad(where, "versions must be numbered 1, 2, 3 ... in order")
        try:
            data, sha = validate_source(item.get("source"), slug)
        except HttpError as exc:
            raise HttpError(exc.status, f"{where}: {exc.detail}", exc.code, **exc.extra) from None
        if item.get("sha256") not in (None, sha):
            raise check.bad(where, "the source does not match its sha256")
        rows.append({
            "version": number, "sha256": sha, "source": item["source"], "data": data,
            "message": check.text(item.get("message"), where, "message", 100_000, optional=True),
            "author": check.text(item.get("author"), where, "author", 300),
            "git": _git(item.get("git"), where),
            "created_at": check.time(item.get("created_at"), where),
            "renamed_from": _renamed_from(item.get("renamed_from"), where),
            "provenance": _provenance_rows(item.get("provenance"), where),
        })
    return rows


def _renamed_from(value: object, where: str) -> str | None:
    """A version's "<old slug>@v<N>", or None."""
    if value is None:
        return None
    slug, _, number = value.rpartition("@v") if isinstance(value, str) else ("", "", "")
    if slug_problem(slug) is not None or not (number.isascii() and number.isdigit()) \
            or len(number) > 10:
        raise check.bad(where, "renamed_from must be '<slug>@v<number>' or null")
    return str(value)


def _label_rows(slug: str, given: object, latest: int) -> dict[str, int]:
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise check.bad(slug, "labels must be an object of label -> version")
    for name, version in given.items():
        if not LABEL_RE.match(name) or not isinstance(version, int) or isinstance(version, bool) \
                or not 1 <= version <= latest:
            raise check.bad(slug, f"label {name!r} must name one of its versions")
    return given


def _event_rows(given: object) -> list[dict[str, Any]]:
    if given is None:
        return []
    if not isinstance(given, list):
        raise check.bad("events", "must be a list")
    rows = []
    for index, item in enumerate(given):
        where = f"event {index + 1}"
        if not isinstance(item, dict):
            raise check.bad(where, "must be an object")
        rows.append({
            "action": check.text(item.get("action"), where, "action", 40),
            "slug": check.text(item.get("slug"), where, "slug", 200, optional=True),
            "actor": check.text(item.get("actor"), where, "actor", 300),
            "details": check.obj(item.get("details"), where, "details") or {},
            "created_at": check.time(item.get("created_at"), where),
        })
    return rows


def _parse(document: dict[str, Any]
           ) -> tuple[list[tuple[str, Any, Any, Any, Any]], list[Any], Releases]:
    if document.get("format") != FORMAT or document.get("format_version") != FORMAT_VERSION:
        raise HttpError(400, f"Not a promptsync export: 'format' must be {FORMAT!r} version "
                             f"{FORMAT_VERSION}.")
    given = document.get("prompts")
    if not isinstance(given, list):
        raise check.bad("prompts", "must be a list")
    prompts, seen = [], set()
    for item in given:
        slug = item.get("slug") if isinstance(item, dict) else None
        if not isinstance(slug, str) or slug in seen:
            raise check.bad("prompts", f"every prompt needs a unique slug (got {slug!r})")
        seen.add(slug)
        if slug_problem(slug):
            raise check.bad(slug, slug_problem(slug) or "")
        rows = _version_rows(slug, item.get("versions"))
        labels = _label_rows(slug, item.get("labels"), len(rows))
        created = check.time(item.get("created_at", item["versions"][0].get("created_at")), slug)
        archived = item.get("archived_at")
        if archived is not None:
            archived = check.time(archived, slug, "archived_at")
            if labels:
                raise check.bad(slug, "an archived prompt has no labels")
        prompts.append((slug, rows, labels, created, archived))
    shas = {slug: [row["sha256"] for row in rows] for slug, rows, *_ in prompts}
    return prompts, _event_rows(document.get("events")), parse_releases(document, shas)


def import_project(project: ProjectRef, principal: Principal, document: dict[str, Any]
                   ) -> dict[str, int]:
    """Restore an export into this project, which must hold no prompts yet (409 otherwise)."""
    prompts, events, releases = _parse(document)  # every check before the first write
    db.session.commit()
    # A no-op write on the project row: two concurrent imports queue here (row lock on
    # Postgres, the write lock on SQLite), so the emptiness check below cannot race.
    db.session.execute(update(Project).where(Project.id == project.id)
                       .values(name=Project.name))
    existing = db.session.scalar(select(func.count()).select_from(Prompt)
                                 .where(Prompt.project_id == project.id))
    if existing:
        db.session.rollback()
        raise HttpError(409, f"Project '{project.slug}' already has prompts: import into an "
                             "empty project.")
    now = utcnow()
    counts = {"prompts": 0, "versions": 0, "labels": 0, "events": len(events)}
    ids: dict[str, int] = {}
    try:
        for slug, rows, labels, created, archived in prompts:
            prompt = Prompt(project_id=project.id, slug=slug, latest_version=len(rows),
                            created_at=created, updated_at=rows[-1]["created_at"],
                            archived_at=archived)
            db.session.add(prompt)
            db.session.flush()
            ids[slug] = prompt.id
            db.session.execute(insert(PromptVersion.__table__),
                               [{**{k: v for k, v in row.items() if k != "provenance"},
                                 "prompt_id": prompt.id,
                                 "partials": partials_column(row["source"], row["data"])}
                                for row in rows])
            later = [{**given, "prompt_id": prompt.id, "version": row["version"]}
                     for row in rows for given in row["provenance"]]
            if later:
                db.session.execute(insert(VersionProvenance.__table__), later)
            db.session.add_all(Label(prompt_id=prompt.id, name=name, version=version,
                                     updated_at=now) for name, version in labels.items())
            counts["prompts"] += 1
            counts["versions"] += len(rows)
            counts["labels"] += len(labels)
        if events:
            db.session.execute(insert(Event.__table__),
                               [{**row, "project_id": project.id} for row in events])
        counts.update(import_releases(project.id, releases, ids, principal.actor, now))
        # The imported events are history, not news: only this one reaches webhooks.
        log_event(project.id, principal.actor, "project.imported", None, **counts)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise HttpError(409, "The project changed during the import; nothing was imported.") \
            from None
    return counts
