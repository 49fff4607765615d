"""Invitations: a role offered to an email, which becomes a membership only when accepted.

An invitation names an email, not a user, so an address that signs up later sees it, and the
answer to an admin is the same whether or not an account exists (no account enumeration).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webapi.auth.principal import ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Invitation, Membership, Project, iso, utcnow
from webapi.services.events import log_event

# How long an invitation can be accepted; inviting again starts a new one.
INVITATION_DAYS = 14


def _as_dict(invitation: Invitation, project_slug: str) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "project": project_slug,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": invitation.invited_by,
        "created_at": iso(invitation.created_at),
        "expires_at": iso(invitation.expires_at),
    }


def invite(project: ProjectRef, actor: str, email: str, role: str) -> dict[str, Any]:
    """Offer `role` to `email` (already checked), replacing a pending invitation to it."""
    now = utcnow()
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.project_id == project.id, Invitation.email == email)
    )
    if invitation is None:
        invitation = Invitation(project_id=project.id, email=email)
        db.session.add(invitation)
    invitation.role = role
    invitation.invited_by = actor
    invitation.created_at = now
    invitation.expires_at = now + dt.timedelta(days=INVITATION_DAYS)
    log_event(project.id, actor, "member.invited", None, email=email, role=role)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent invitation to the same email won
        db.session.rollback()
        raise HttpError(409, "This email was invited at the same moment; try again.") from None
    return _as_dict(invitation, project.slug)


def project_invitations(project: ProjectRef) -> list[dict[str, Any]]:
    """A project's pending (unexpired) invitations, by email."""
    rows = db.session.scalars(
        select(Invitation)
        .where(Invitation.project_id == project.id, Invitation.expires_at > utcnow())
        .order_by(Invitation.email)
    )
    return [_as_dict(i, project.slug) for i in rows]


def invitations_for(email: str) -> list[dict[str, Any]]:
    """The pending invitations to an email, with the project's name, oldest first."""
    rows = db.session.execute(
        select(Invitation, Project.slug, Project.name)
        .join(Project, Project.id == Invitation.project_id)
        .where(Invitation.email == email, Invitation.expires_at > utcnow())
        .order_by(Invitation.id)
    )
    return [{**_as_dict(i, slug), "project_name": name} for i, slug, name in rows]


def is_invited(email: str) -> bool:
    """Whether an email has a pending (unexpired) invitation to any project."""
    found = db.session.scalar(
        select(Invitation.id).where(Invitation.email == email, Invitation.expires_at > utcnow())
        .limit(1)
    )
    return found is not None


def _pending(invitation_id: int, email: str) -> Invitation:
    # Another user's invitation answers like a missing one: ids are not secrets, emails are.
    invitation = db.session.scalar(
        select(Invitation).where(
            Invitation.id == invitation_id,
            Invitation.email == email,
            Invitation.expires_at > utcnow(),
        )
    )
    if invitation is None:
        raise HttpError(404, "No such invitation (it may have expired or been withdrawn).")
    return invitation


def accept(invitation_id: int, user_id: int, email: str) -> dict[str, Any]:
    """Join the project with the invited role; 404 unless the invitation is pending to `email`."""
    invitation = _pending(invitation_id, email)
    project = invitation.project
    db.session.delete(invitation)
    member = db.session.scalar(
        select(Membership).where(
            Membership.project_id == project.id, Membership.user_id == user_id
        )
    )
    if member is None:
        member = Membership(project_id=project.id, user_id=user_id, role=invitation.role)
        db.session.add(member)
        log_event(project.id, email, "member.joined", None, email=email, role=invitation.role,
                  invited_by=invitation.invited_by)
    try:
        db.session.commit()
    except IntegrityError:  # accepted twice at once: the first one made the membership
        db.session.rollback()
        raise HttpError(404, "No such invitation (it was accepted already).") from None
    return {"slug": project.slug, "name": project.name, "role": member.role,
            "created_at": iso(project.created_at)}


def decline(invitation_id: int, email: str) -> None:
    """Turn an invitation down; 404 unless it is pending to `email`."""
    invitation = _pending(invitation_id, email)
    db.session.delete(invitation)
    log_event(invitation.project_id, email, "invitation.declined", None, email=email,
              role=invitation.role)
    db.session.commit()


def withdraw(project: ProjectRef, actor: str, email: str) -> bool:
    """An admin takes back the invitation to `email` (in the caller's transaction); whether
    there was one."""
    gone = db.session.scalars(
        delete(Invitation)
        .where(Invitation.project_id == project.id, Invitation.email == email)
        .returning(Invitation.id)
    ).all()
    if not gone:
        return False
    log_event(project.id, actor, "invitation.withdrawn", None, email=email)
    return True
