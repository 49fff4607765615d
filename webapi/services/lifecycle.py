"""Archiving and restoring prompts: nothing is destroyed, every step is an event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK, Label, Prompt, utcnow
from webapi.services.events import log_event
from webapi.services.moves import remove_labels
from webapi.services.partials import dependent_uses, lock_includes, uses_text
from webapi.services.protection import protected_labels
from webapi.services.versions import check_slug, get_version, labels_of, version_dict


@dataclass(frozen=True)
class LockedPrompt:
    """A prompt row locked for this transaction: its id, slug, latest number and state."""

    id: int
    slug: str
    latest: int
    archived_at: dt.datetime | None


def lock_prompt(project: ProjectRef, slug: str) -> LockedPrompt:
    """The prompt's row, locked until the transaction ends; 404 when it has no version."""
    # The lock is the transaction's first statement, a write (no-op): Postgres locks the row,
    # SQLite takes its write lock before reading anything, so a concurrent push, label move or
    # archive of this prompt waits for this one to commit, and then sees what it wrote.
    db.session.commit()  # end any read transaction of authentication first (SQLite)
    row = db.session.execute(
        update(Prompt)
        .where(Prompt.project_id == project.id, Prompt.slug == slug, Prompt.latest_version > 0)
        .values(latest_version=Prompt.latest_version)
        .returning(Prompt.id, Prompt.latest_version, Prompt.archived_at)
    ).one_or_none()
    if row is None:
        db.session.rollback()
        raise HttpError(404, f"No prompt '{slug}' in project '{project.slug}'.")
    return LockedPrompt(row[0], slug, row[1], row[2])


def gone(project: ProjectRef, slug: str) -> HttpError:
    """The 404 for archiving (or renaming) a prompt that is archived already."""
    return HttpError(404, f"'{slug}' in project '{project.slug}' is archived already.")


def archive_locked(
    project: ProjectRef, prompt: LockedPrompt, principal: Principal,
    expected_version: int | None, force: bool, now: dt.datetime, **details: object,
) -> None:
    """Archive a live prompt locked by lock_prompt(), in the caller's transaction: its labels
    removed (an event each), then prompt.archived; 409 when refused. force (an admin's) lets
    it remove protected labels too."""
    if expected_version is not None and expected_version != prompt.latest:
        raise HttpError(
            409, f"'{prompt.slug}' is at version {prompt.latest}, not {expected_version}: "
            "it changed since you last synced it.", "conflict", latest_version=prompt.latest)
    labels = dict(db.session.execute(
        select(Label.name, Label.version).where(Label.prompt_id == prompt.id)
        .order_by(Label.name)).all())
    blocking = sorted(name for name in labels if name in protected_labels(project.id))
    if blocking and not force:
        names = ", ".join(f"'{name}' (v{labels[name]})" for name in blocking)
        raise HttpError(
            409, f"The protected label {names} points at '{prompt.slug}': move the label to "
            "another prompt's version or remove it first, or ask an admin to archive with "
            "force.", "protected_label", labels=blocking)
    # Through the labels' own path, so each removal is in the label's history too.
    remove_labels(project, prompt.id, prompt.slug, principal.actor, "archived")
    db.session.execute(update(Prompt).where(Prompt.id == prompt.id).values(archived_at=now))
    log_event(project.id, principal.actor, "prompt.archived", prompt.slug,
              version=prompt.latest, labels=labels, forced=bool(blocking), **details)


def check_not_included(project: ProjectRef, slug: str, doing: str) -> None:
    """409 ``included`` when a live prompt's latest or labelled version includes slug: an
    archive (or a rename, which archives) would break their fetches. Call under
    lock_includes()."""
    uses = dependent_uses(project, slug)
    if not uses:
        return
    labelled = any(via["ref"] != "latest" for use in uses for via in use["via"])
    then = " and move their labels to versions without it" if labelled else ""
    how = f"remove the includes first ({{{{> {slug} }}}}){then}"
    if doing == "rename":
        how = (f"keep '{slug}' until nothing includes it: push the new name beside it, point "
               f"the includes at the new name{then}, then delete '{slug}'")
    raise HttpError(
        409, f"Cannot {doing} '{slug}': it is included by {uses_text(uses)}; {how}.", "included",
        dependents=[use["slug"] for use in uses], via={use["slug"]: use["via"] for use in uses})


def archive_prompt(
    project: ProjectRef, slug: str, principal: Principal, role: str,
    expected_version: int | None = None, force: bool = False,
) -> None:
    """Archive a prompt (DELETE): 404 when missing or archived, 409 on a moved latest or a
    protected label (unless an admin forces it; 403 for anyone else's force)."""
    check_slug(slug)
    if force and ROLE_RANK[role] < ROLE_RANK["admin"]:
        raise HttpError(403, "Only admins may archive with force (removing protected labels).")
    prompt = lock_prompt(project, slug)
    try:
        if prompt.archived_at is not None:
            raise gone(project, slug)
        lock_includes(project)  # no push may include it between this check and the commit
        check_not_included(project, slug, "archive")
        archive_locked(project, prompt, principal, expected_version, force, utcnow())
    except HttpError:
        db.session.rollback()
        raise
    db.session.commit()


def restore_prompt(project: ProjectRef, slug: str, principal: Principal) -> dict[str, object]:
    """Bring an archived prompt back with its versions (not its labels); its latest version.
    409 when it is not archived."""
    check_slug(slug)
    prompt = lock_prompt(project, slug)
    if prompt.archived_at is None:
        db.session.rollback()
        raise HttpError(409, f"'{slug}' is not archived.", "conflict",
                        latest_version=prompt.latest)
    db.session.execute(update(Prompt).where(Prompt.id == prompt.id).values(archived_at=None))
    log_event(project.id, principal.actor, "prompt.restored", slug, version=prompt.latest)
    db.session.commit()
    latest = get_version(project, slug, prompt.latest)
    return version_dict(project.slug, slug, latest, labels_of(prompt.id, prompt.latest))
