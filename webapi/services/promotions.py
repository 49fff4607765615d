"""Promotion requests: a protected label's move waiting for other admins' approval, bound to the
version's sha256 and to where the label pointed when the request was opened."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Promotion, Prompt, PromptVersion, iso, utcnow
from webapi.services.events import log_event
from webapi.services.include_guard import check_label_change
from webapi.services.moves import apply_move, current_version, lock_prompt
from webapi.services.pages import newest_page
from webapi.services.protection import ReleaseSettings, check_target, release_settings

PENDING, APPROVED, REJECTED, STALE = "pending", "approved", "rejected", "stale"
MAX_ID = 2**31 - 1  # an id past the INTEGER column is no request (and no overflow on SQLite)
STATES = (PENDING, APPROVED, REJECTED, STALE)


def request_dict(row: Promotion, slug: str) -> dict[str, Any]:
    """A request as the API shows it."""
    return {
        "id": row.id, "slug": slug, "label": row.label, "version": row.version,
        "sha256": row.sha256, "from_version": row.from_version,
        "requested_by": row.requested_by, "state": row.state,
        "approvals_required": row.approvals_required,
        "approvals": [{"by": a["by"], "at": a["at"]} for a in row.approvals],
        "decided_by": row.decided_by, "decided_at": iso(row.decided_at),
        "created_at": iso(row.created_at),
    }


def open_request(project: ProjectRef, prompt_id: int, slug: str, label: str,
                 version: PromptVersion | None, principal: Principal, previous: int | None,
                 settings: ReleaseSettings) -> dict[str, Any]:
    """Open (and commit) a request to point ``label`` at ``version`` (None: remove it), from
    ``previous``, inside the prompt's locked transaction; the same pending request again is
    answered with the one already open, so a retried call opens nothing twice."""
    number = version.version if version is not None else None
    same = db.session.scalar(select(Promotion).where(
        Promotion.prompt_id == prompt_id, Promotion.label == label, Promotion.state == PENDING,
        Promotion.version.is_(None) if number is None else Promotion.version == number,
        Promotion.from_version.is_(None) if previous is None
        else Promotion.from_version == previous,
        Promotion.requested_by_user_id == principal.user_id,
    ))
    if same is not None:
        db.session.commit()
        return request_dict(same, slug)
    row = Promotion(
        project_id=project.id, prompt_id=prompt_id, label=label, version=number,
        sha256=version.sha256 if version is not None else None, from_version=previous,
        requested_by=principal.actor, requested_by_user_id=principal.user_id, state=PENDING,
        approvals_required=settings.approvals_required, approvals=[],
    )
    db.session.add(row)
    db.session.flush()  # the id, for the event
    log_event(project.id, principal.actor, "promotion.requested", slug, id=row.id, label=label,
              version=number, sha256=row.sha256, previous=previous,
              approvals_required=row.approvals_required)
    db.session.commit()
    return request_dict(row, slug)


def _find(project: ProjectRef, request_id: int) -> tuple[Promotion, str]:
    """The request of this project and its prompt's slug, or 404."""
    found = db.session.execute(
        select(Promotion, Prompt.slug).join(Prompt, Prompt.id == Promotion.prompt_id)
        .where(Promotion.project_id == project.id, Promotion.id == request_id)
    ).first() if 0 <= request_id <= MAX_ID else None
    if found is None:
        raise HttpError(404, f"No promotion request #{request_id} in project '{project.slug}'.")
    return found[0], found[1]


def _check_pending(row: Promotion) -> None:
    if row.state != PENDING:
        raise HttpError(409, f"Request #{row.id} is {row.state}, not pending.", "conflict",
                        state=row.state)


def _go_stale(project: ProjectRef, row: Promotion, slug: str, actor: str, why: str) -> HttpError:
    """Mark the request stale (committed) and return the 409 that says why."""
    row.state, row.decided_by, row.decided_at = STALE, actor, utcnow()
    log_event(project.id, actor, "promotion.stale", slug, id=row.id, label=row.label,
              version=row.version, reason=why)
    db.session.commit()
    return HttpError(409, f"Request #{row.id} is stale: {why}. Open a new request.", "stale",
                     request=request_dict(row, slug))


def approve(project: ProjectRef, request_id: int, principal: Principal) -> dict[str, Any]:
    """Approve a pending request as another admin; the label moves with the last approval
    needed. 403 for the requester, 409 ``stale`` when the label moved since it was opened."""
    row, slug = _find(project, request_id)
    lock_prompt(row.prompt_id, slug, live_only=False)
    try:
        return _approve_locked(project, request_id, principal)
    except HttpError as exc:
        if exc.code != "stale":
            db.session.rollback()
        raise


def _approve_locked(project: ProjectRef, request_id: int, principal: Principal
                    ) -> dict[str, Any]:
    # Read again under the lock: another decision or a label move may have just committed.
    row, slug = _find(project, request_id)
    _check_pending(row)
    if row.requested_by_user_id == principal.user_id:
        raise HttpError(403, f"You opened request #{row.id}; another admin must approve it.",
                        request=request_dict(row, slug))
    if any(a["user_id"] == principal.user_id for a in row.approvals):
        raise HttpError(409, f"You already approved request #{row.id}; it waits for another "
                             "admin.", "conflict", state=row.state)
    if db.session.scalar(select(Prompt.archived_at).where(Prompt.id == row.prompt_id)):
        raise _go_stale(project, row, slug, principal.actor, "the prompt was archived")
    current = current_version(row.prompt_id, row.label)
    if current != row.from_version:
        then = f"v{row.from_version}" if row.from_version is not None else "nothing"
        now = f"v{current}" if current is not None else "nothing"
        raise _go_stale(project, row, slug, principal.actor,
                        f"'{row.label}' pointed at {then} when it was opened and at {now} now")
    target: PromptVersion | None = None
    if row.version is not None:
        target = db.session.scalar(select(PromptVersion).where(
            PromptVersion.prompt_id == row.prompt_id, PromptVersion.version == row.version))
        if target is None or target.sha256 != row.sha256:
            raise _go_stale(project, row, slug, principal.actor,
                            f"v{row.version} no longer has the content it named")
        check_target(release_settings(project.id), row.label, slug, row.prompt_id, target,
                     principal.actor)
    if len(row.approvals) + 1 >= row.approvals_required:  # this approval moves it: check now
        # What it includes may have been archived since the request was opened (SPEC §13).
        check_label_change(project, slug, row.label, target)
    row.approvals = [*row.approvals, {"by": principal.actor, "user_id": principal.user_id,
                                      "at": iso(utcnow())}]
    log_event(project.id, principal.actor, "promotion.approved", slug, id=row.id,
              label=row.label, version=row.version, approvals=len(row.approvals),
              approvals_required=row.approvals_required)
    if len(row.approvals) >= row.approvals_required:
        apply_move(project, row.prompt_id, slug, row.label, row.version, principal.actor,
                   current, f"promotion #{row.id} requested by {row.requested_by}",
                   promotion=row.id)
        row.state, row.decided_by, row.decided_at = APPROVED, principal.actor, utcnow()
    db.session.commit()
    return request_dict(row, slug)


def reject(project: ProjectRef, request_id: int, principal: Principal) -> dict[str, Any]:
    """Reject a pending request (its requester may withdraw it too); the label stays."""
    row, slug = _find(project, request_id)
    lock_prompt(row.prompt_id, slug, live_only=False)  # decided once, even against an approval
    row, slug = _find(project, request_id)
    try:
        _check_pending(row)
    except HttpError:
        db.session.rollback()
        raise
    row.state, row.decided_by, row.decided_at = REJECTED, principal.actor, utcnow()
    log_event(project.id, principal.actor, "promotion.rejected", slug, id=row.id,
              label=row.label, version=row.version)
    db.session.commit()
    return request_dict(row, slug)


def list_requests(project: ProjectRef, state: str | None, limit: int, before: int | None = None
                  ) -> tuple[list[dict[str, Any]], int | None]:
    """The project's requests, newest first, in one state or all; (page, next cursor id)."""
    if state is not None and state not in STATES:
        raise HttpError(400, f"'state' must be one of {', '.join(STATES)}.", field="state")
    query = (select(Promotion, Prompt.slug).join(Prompt, Prompt.id == Promotion.prompt_id)
             .where(Promotion.project_id == project.id))
    if state is not None:
        query = query.where(Promotion.state == state)
    rows, more = newest_page(query, Promotion.id, limit, before, scalars=False)
    page = [request_dict(row, slug) for row, slug in rows]
    return page, (page[-1]["id"] if more else None)


def requesters(request_ids: list[int]) -> dict[int, int]:
    """The user behind each request (who may not approve it), by request id."""
    if not request_ids:
        return {}
    rows = db.session.execute(select(Promotion.id, Promotion.requested_by_user_id)
                              .where(Promotion.id.in_(request_ids)))
    return {request_id: user_id for request_id, user_id in rows}
