"""Moving and removing labels with compare-and-swap; every move is logged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK, Label, Prompt, PromptVersion, utcnow
from webapi.services.events import log_event
from webapi.services.protection import protected_labels
from webapi.services.versions import (
    archived,
    check_label_name,
    find_prompt_id,
    no_label,
    no_version,
)


def _lock_prompt(prompt_id: int, slug: str) -> None:
    # A no-op write takes the row lock (Postgres) or the write lock (SQLite), so the
    # read-compare-write below cannot interleave with another label move, or an archive.
    db.session.commit()
    archived_at = db.session.execute(
        update(Prompt).where(Prompt.id == prompt_id).values(latest_version=Prompt.latest_version)
        .returning(Prompt.archived_at)
    ).scalar_one()
    if archived_at is not None:  # an archived prompt has no labels, and gets none
        db.session.rollback()
        raise archived(slug)


def _check_role(project: ProjectRef, label: str, role: str) -> None:
    if label in protected_labels(project.id) and ROLE_RANK[role] < ROLE_RANK["admin"]:
        raise HttpError(403, f"Only admins may move the '{label}' label.")


def _check_expected(label: str, current: int | None, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise HttpError(
            409,
            f"Label '{label}' points at {current if current is not None else 'nothing'}, "
            f"not {expected}.",
            "conflict",
            current_version=current,
        )


def set_label(
    project: ProjectRef,
    slug: str,
    label: str,
    version: int,
    principal: Principal,
    role: str,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Point label at version; 409 when expected_version is given and does not match."""
    check_label_name(label)
    _check_role(project, label, role)
    prompt_id = find_prompt_id(project, slug)
    _lock_prompt(prompt_id, slug)
    exists = db.session.scalar(
        select(PromptVersion.id).where(
            PromptVersion.prompt_id == prompt_id, PromptVersion.version == version
        )
    )
    if exists is None:
        db.session.rollback()
        raise no_version(slug, version)
    row = db.session.scalar(select(Label).where(Label.prompt_id == prompt_id, Label.name == label))
    previous = row.version if row is not None else None
    try:
        _check_expected(label, previous, expected_version)
    except HttpError:
        db.session.rollback()
        raise
    if row is None:
        db.session.add(Label(prompt_id=prompt_id, name=label, version=version))
    else:
        row.version = version
        row.updated_at = utcnow()
    log_event(
        project.id, principal.actor, "label.moved", slug,
        label=label, version=version, previous=previous,
    )
    db.session.commit()
    return {"slug": slug, "label": label, "version": version, "previous": previous}


def delete_label(
    project: ProjectRef,
    slug: str,
    label: str,
    principal: Principal,
    role: str,
    expected_version: int | None = None,
) -> None:
    """Remove a label; 404 when it does not exist, 409 on a failed expectation."""
    check_label_name(label)
    _check_role(project, label, role)
    prompt_id = find_prompt_id(project, slug)
    _lock_prompt(prompt_id, slug)
    current = db.session.scalar(
        select(Label.version).where(Label.prompt_id == prompt_id, Label.name == label)
    )
    if current is None:
        db.session.rollback()
        raise no_label(slug, label)
    try:
        _check_expected(label, current, expected_version)
    except HttpError:
        db.session.rollback()
        raise
    db.session.execute(delete(Label).where(Label.prompt_id == prompt_id, Label.name == label))
    log_event(project.id, principal.actor, "label.removed", slug, label=label, previous=current)
    db.session.commit()
