"""Label moves: applying one under the prompt's lock, and the history every move leaves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from webapi.auth.principal import ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Label, LabelMove, Prompt, PromptVersion, utcnow
from webapi.services.events import log_event
from webapi.services.pages import newest_page
from webapi.services.versions import archived, check_label_name, find_prompt_id, no_version


def lock_prompt(prompt_id: int, slug: str, live_only: bool = True) -> None:
    """Start a transaction holding the prompt's lock; 410 when the prompt is archived (unless
    ``live_only`` is False)."""
    # A no-op write takes the row lock (Postgres) or the write lock (SQLite), so a
    # read-compare-write after it cannot interleave with another label move, or an archive.
    db.session.commit()
    archived_at = db.session.execute(
        update(Prompt).where(Prompt.id == prompt_id).values(latest_version=Prompt.latest_version)
        .returning(Prompt.archived_at)
    ).scalar_one()
    if live_only and archived_at is not None:  # an archived prompt has no labels, gets none
        db.session.rollback()
        raise archived(slug)


def current_version(prompt_id: int, label: str) -> int | None:
    """Where the label points now, or None."""
    return db.session.scalar(
        select(Label.version).where(Label.prompt_id == prompt_id, Label.name == label)
    )


def check_expected(label: str, current: int | None, expected: int | None) -> None:
    """409 ``conflict`` when ``expected`` is given and the label is elsewhere (0: absent)."""
    if expected is None or expected == (current or 0):
        return
    raise HttpError(
        409,
        f"Label '{label}' points at {current if current is not None else 'nothing'}, "
        f"not {expected if expected else 'nothing'}.",
        "conflict",
        current_version=current,
    )


def version_exists(prompt_id: int, slug: str, version: int) -> PromptVersion:
    """The version row, or 404."""
    row = db.session.scalar(
        select(PromptVersion).where(
            PromptVersion.prompt_id == prompt_id, PromptVersion.version == version
        )
    )
    if row is None:
        raise no_version(slug, version)
    return row


def apply_move(project: ProjectRef, prompt_id: int, slug: str, label: str, version: int | None,
               actor: str, previous: int | None, reason: str | None = None,
               **details: Any) -> None:
    """Point ``label`` at ``version`` (None: remove it) in the current, locked transaction,
    from ``previous`` where the caller found it; the history row and the event go with it.
    The caller commits."""
    if version is None:
        db.session.execute(delete(Label).where(Label.prompt_id == prompt_id, Label.name == label))
        log_event(project.id, actor, "label.removed", slug, label=label, previous=previous,
                  **({"reason": reason} if reason else {}), **details)
    else:
        row = db.session.scalar(
            select(Label).where(Label.prompt_id == prompt_id, Label.name == label)
        )
        if row is None:
            db.session.add(Label(prompt_id=prompt_id, name=label, version=version))
        else:
            row.version, row.updated_at = version, utcnow()
        log_event(project.id, actor, "label.moved", slug, label=label, version=version,
                  previous=previous, **({"reason": reason} if reason else {}), **details)
    # A move to where the label already is changes nothing a rollback could go back to.
    if previous != version:
        db.session.add(LabelMove(prompt_id=prompt_id, label=label, from_version=previous,
                                 to_version=version, actor=actor, reason=reason))


def remove_labels(project: ProjectRef, prompt_id: int, slug: str, actor: str,
                  reason: str | None = None) -> list[str]:
    """Remove every label of a prompt in the current, locked transaction (an archive), each
    removal in the history and the events; the names removed. The caller commits."""
    rows = db.session.execute(
        select(Label.name, Label.version).where(Label.prompt_id == prompt_id).order_by(Label.name)
    ).all()
    for name, number in rows:
        apply_move(project, prompt_id, slug, name, None, actor, number, reason)
    return [name for name, _ in rows]


def label_history(project: ProjectRef, slug: str, label: str, limit: int,
                  before: int | None = None) -> tuple[list[LabelMove], int | None]:
    """The label's moves, newest first, older than the move id ``before``; (page, next id).
    A label never set has an empty history (the prompt must exist: 404 otherwise)."""
    check_label_name(label)
    prompt_id = find_prompt_id(project, slug)
    query = select(LabelMove).where(LabelMove.prompt_id == prompt_id, LabelMove.label == label)
    rows, more = newest_page(query, LabelMove.id, limit, before)
    return rows, (rows[-1].id if more else None)

