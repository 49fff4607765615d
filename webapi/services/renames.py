"""Renames: a push item that names the slug its source was at archives that slug and stores the
source under the new one, in one transaction; and pushes that may hold renames."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy import select, update

from promptsync.format.partials import has_includes
from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Prompt, PromptVersion, utcnow
from webapi.services.events import log_event
from webapi.services.lifecycle import LockedPrompt, archive_locked, check_not_included, gone
from webapi.services.partials import check_push, lock_includes, partials_column
from webapi.services.pushes import (
    PushItem,
    PushOutcome,
    insert_missing_prompts,
    push_versions,
    refusal,
    retry_deadlocks,
    validate_item,
)
from webapi.services.versions import check_slug, labels_of, version_dict


def push_items(
    project: ProjectRef, principal: Principal, items: Sequence[PushItem]
) -> list[PushOutcome]:
    """push_versions() of the plain items; each rename first, in its own transaction."""
    # Renames go first: after `git mv a b` and a new file at a, the rename archives a before
    # the new a is pushed (which then restores it), never after.
    outcomes: list[PushOutcome | None] = [None] * len(items)
    plain = [(index, item) for index, item in enumerate(items) if item.renamed_from is None]
    for index, item in enumerate(items):
        if item.renamed_from is not None:
            outcomes[index] = rename(project, principal, item)
    stored = push_versions(project, principal, [item for _, item in plain])
    for (index, _), outcome in zip(plain, stored, strict=True):
        outcomes[index] = outcome
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


def push_one(
    project: ProjectRef, principal: Principal, item: PushItem
) -> tuple[int, dict[str, Any]]:
    """Store one item, plain or a rename: (201, version) new, (200, latest) unchanged; raises
    its refusal (404/409/422)."""
    (outcome,) = push_items(project, principal, [item])
    if outcome.error is not None:
        raise outcome.error
    assert outcome.version is not None
    return (201 if outcome.status == "created" else 200), outcome.version


def rename(project: ProjectRef, principal: Principal, item: PushItem) -> PushOutcome:
    """Archive item.renamed_from and store item's source as the next version of item.slug."""
    refused = validate_item(item)
    if refused is not None:
        return refused
    if isinstance(item.source, str) and has_includes(item.source):
        # The same rule as a plain push: no include cycle, no missing target (SPEC §13).
        bad = check_push(project, {item.slug: item.data}).get(item.slug)
        if bad is not None:
            return refusal(item.slug, bad)
    try:
        old = item.renamed_from
        assert old is not None
        check_slug(old)
        if old == item.slug:
            raise HttpError(400, f"'renamed_from' names '{old}' itself.", field="renamed_from")
        return retry_deadlocks(partial(_rename, project, principal, item, old))
    except HttpError as exc:
        db.session.rollback()
        return refusal(item.slug, exc)


def _rename(
    project: ProjectRef, principal: Principal, item: PushItem, old_slug: str
) -> PushOutcome:
    db.session.commit()  # end any read transaction of authentication (SQLite)
    now = utcnow()
    # As a push does: the first write takes SQLite's lock, then Postgres locks both rows in id
    # order, so this queues behind (or ahead of) a push, an archive or a label move of either.
    insert_missing_prompts(project, [item.slug], now)
    rows = db.session.execute(
        select(Prompt.id, Prompt.slug, Prompt.latest_version, Prompt.archived_at)
        .where(Prompt.project_id == project.id, Prompt.slug.in_([old_slug, item.slug]))
        .order_by(Prompt.id)
        .with_for_update()
    ).all()
    by_slug = {row[1]: LockedPrompt(*row) for row in rows}
    new = by_slug[item.slug]
    old = by_slug.get(old_slug)
    if old is None or old.latest == 0:
        raise HttpError(404, f"No prompt '{old_slug}' in project '{project.slug}' to rename.")
    if old.archived_at is not None:
        landed = _landed_before(project, old, new, item)
        if landed is not None:
            return landed
        raise gone(project, old_slug)
    if new.latest > 0 and new.archived_at is None:
        raise HttpError(409, f"'{item.slug}' exists already: archive it first, or push the file "
                             "as a change of it.", "conflict", latest_version=new.latest)
    if item.parent_version is not None and item.parent_version != new.latest:
        raise HttpError(409, f"'{item.slug}' is at version {new.latest}, not "
                             f"{item.parent_version}.", "conflict", latest_version=new.latest)
    renamed_from = f"{old_slug}@v{old.latest}"
    # The same rules as an archive, never forced: a prompt others include (at their latest or
    # a label) is not renamed under them, nor is one a protected label points at.
    lock_includes(project)
    check_not_included(project, old_slug, "rename")
    archive_locked(project, old, principal, item.renamed_from_version, False, now,
                   renamed_to=item.slug)
    number = new.latest + 1
    version = PromptVersion(
        prompt_id=new.id, version=number, sha256=item.sha256, source=item.source,
        data=item.data, message=item.message, author=principal.email, git=item.git,
        created_at=now, renamed_from=renamed_from,
        partials=partials_column(item.source, item.data))
    db.session.add(version)
    db.session.execute(update(Prompt).where(Prompt.id == new.id).values(
        latest_version=number, updated_at=now, archived_at=None))
    log_event(project.id, principal.actor, "version.created", item.slug, version=number,
              sha256=item.sha256)
    if new.archived_at is not None:
        log_event(project.id, principal.actor, "prompt.restored", item.slug, version=number,
                  by="rename")
    log_event(project.id, principal.actor, "prompt.renamed", item.slug, version=number,
              renamed_from=renamed_from, **{"from": old_slug, "from_version": old.latest})
    shown = version_dict(project.slug, item.slug, version, [])
    db.session.commit()
    return PushOutcome(item.slug, "created", shown)


def _landed_before(
    project: ProjectRef, old: LockedPrompt, new: LockedPrompt, item: PushItem
) -> PushOutcome | None:
    """The outcome of this very rename sent again (its answer lost): unchanged, not an error."""
    if new.latest == 0 or new.archived_at is not None:
        return None
    latest = db.session.scalar(select(PromptVersion).where(
        PromptVersion.prompt_id == new.id, PromptVersion.version == new.latest))
    if latest is None or latest.sha256 != item.sha256 or latest.renamed_from != (
            f"{old.slug}@v{old.latest}"):
        return None
    shown = version_dict(project.slug, item.slug, latest, labels_of(new.id, new.latest))
    db.session.commit()
    return PushOutcome(item.slug, "unchanged", shown)
