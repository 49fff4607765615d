"""Moving and removing labels with compare-and-swap, under the project's release rules: a
protected label is the admins', may need a clean commit, and may need other admins' approval."""

from __future__ import annotations

from typing import Any

from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK
from webapi.services.contracts import check_contract
from webapi.services.include_guard import check_label_change
from webapi.services.moves import (
    apply_move,
    check_expected,
    current_version,
    lock_prompt,
    version_exists,
)
from webapi.services.promotions import open_request
from webapi.services.protection import ReleaseSettings, check_target, release_settings
from webapi.services.versions import check_label_name, find_prompt_id, no_label

MAX_REASON = 300


def _rules(project: ProjectRef, label: str, role: str) -> ReleaseSettings | None:
    """The release settings when ``label`` is protected (403 below admin), else None."""
    check_label_name(label)
    settings = release_settings(project.id)
    if label not in settings.protected_labels:
        return None
    if ROLE_RANK[role] < ROLE_RANK["admin"]:
        raise HttpError(403, f"Only admins may move the '{label}' label.")
    return settings


def _check_reason(reason: str | None) -> None:
    if reason is not None and len(reason) > MAX_REASON:
        raise HttpError(400, f"'reason' must be at most {MAX_REASON} characters.", field="reason")


def set_label(
    project: ProjectRef,
    slug: str,
    label: str,
    version: int,
    principal: Principal,
    role: str,
    expected_version: int | None = None,
    reason: str | None = None,
    allow_breaking: bool = False,
    git: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """Point label at version; 409 when expected_version is given and does not match (0: when
    the label exists), when a protected label's move breaks the prompt's contract unless
    allow_breaking or lacks a clean commit (``git``: the caller's file, hashing to ``sha256``,
    may supply it), or when it would leave an include unresolved (include_guard). A protected
    label needing approval does not move: ``{"request"}``."""
    _check_reason(reason)
    settings = _rules(project, label, role)
    prompt_id = find_prompt_id(project, slug)
    lock_prompt(prompt_id, slug)
    try:
        target = version_exists(prompt_id, slug, version)
        previous = current_version(prompt_id, label)
        check_expected(label, previous, expected_version)
        if previous != version:
            if settings is not None:
                check_target(settings, label, slug, prompt_id, target, principal.actor, git,
                             sha256)
                check_contract(prompt_id, slug, label, previous, target, allow_breaking)
            check_label_change(project, slug, label, target)  # no include left unresolved
            if settings is not None and settings.approvals_required:
                return {"request": open_request(project, prompt_id, slug, label, target,
                                                principal, previous, settings)}
    except HttpError:
        db.session.rollback()
        raise
    apply_move(project, prompt_id, slug, label, version, principal.actor, previous, reason)
    db.session.commit()
    return {"slug": slug, "label": label, "version": version, "previous": previous}


def delete_label(
    project: ProjectRef,
    slug: str,
    label: str,
    principal: Principal,
    role: str,
    expected_version: int | None = None,
) -> dict[str, Any] | None:
    """Remove a label; 404 when it does not exist, 409 on a failed expectation or when others
    include the prompt by that label (include_guard). A protected label needing approval
    stays: ``{"request"}`` to remove it."""
    settings = _rules(project, label, role)
    prompt_id = find_prompt_id(project, slug)
    lock_prompt(prompt_id, slug)
    try:
        current = current_version(prompt_id, label)
        if current is None:
            raise no_label(slug, label)
        check_expected(label, current, expected_version)
        check_label_change(project, slug, label, None)
        if settings is not None and settings.approvals_required:
            return {"request": open_request(project, prompt_id, slug, label, None, principal,
                                            current, settings)}
    except HttpError:
        db.session.rollback()
        raise
    apply_move(project, prompt_id, slug, label, None, principal.actor, current)
    db.session.commit()
    return None
