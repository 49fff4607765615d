"""Projects and their members: creating a project, listing a caller's projects, setting roles."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapi.auth.principal import Principal, ProjectRef
from webapi.characters import check_line
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLES, Membership, Project, User, iso
from webapi.services.accounts import normalise_email
from webapi.services.events import log_event
from webapi.services.invitations import invite, withdraw
from webapi.services.keys import revoke_keys_of

PROJECT_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def create_project(user_id: int, actor: str, slug: object, name: object) -> dict[str, Any]:
    """A new project with its creator as admin; 400 for a bad slug, 409 when taken."""
    if not isinstance(slug, str) or not PROJECT_SLUG_RE.match(slug):
        raise HttpError(400, "'slug' must be 1-63 characters of a-z, 0-9 and '-'.")
    if name is None:
        name = slug
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise HttpError(400, "'name' must be a non-empty string of at most 200 characters.")
    check_line(name, "name")
    project = Project(slug=slug, name=name.strip())
    db.session.add(project)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise HttpError(409, f"A project '{slug}' already exists.") from None
    db.session.add(Membership(project_id=project.id, user_id=user_id, role="admin"))
    log_event(project.id, actor, "project.created", None, name=project.name)
    db.session.commit()
    return {"slug": project.slug, "name": project.name, "role": "admin",
            "created_at": iso(project.created_at)}


def projects_of(principal: Principal) -> list[dict[str, Any]]:
    """The caller's projects and role in each, by slug; an API key sees only its own project."""
    rows = db.session.execute(
        select(Project, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == principal.user_id)
        .order_by(Project.slug)
    )
    projects = [
        {"slug": p.slug, "name": p.name, "role": role, "created_at": iso(p.created_at)}
        for p, role in rows
    ]
    if principal.is_key:
        projects = [p for p in projects if p["slug"] == principal.key_project_slug]
        for p in projects:
            p["role"] = principal.key_role
    return projects


def members_of(project: ProjectRef) -> list[dict[str, Any]]:
    """Members of a project by email."""
    rows = db.session.execute(
        select(User.email, Membership.role, Membership.created_at)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project.id)
        .order_by(User.email)
    )
    return [{"email": e, "role": r, "added_at": iso(c)} for e, r, c in rows]


def _admin_count(project_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Membership.project_id == project_id, Membership.role == "admin")
    ) or 0


def set_member(project: ProjectRef, actor: str, email: str, role: object) -> dict[str, Any]:
    """Change a member's role, or invite a non-member: {"invitation": ...}, answered the same
    whether or not the email has an account; 409 when it would leave no admin."""
    if role not in ROLES:
        raise HttpError(400, "'role' must be one of viewer, editor, admin.")
    assert isinstance(role, str)
    email = normalise_email(email)
    member = _member(project, email)
    if member is None:
        # Nobody joins without saying yes, and whether an account exists stays unsaid.
        return {"invitation": invite(project, actor, email, role)}
    previous = member.role
    if previous == "admin" and role != "admin" and _admin_count(project.id) <= 1:
        raise HttpError(409, "A project needs at least one admin; promote someone else first.")
    member.role = role
    log_event(project.id, actor, "member.set", None, email=email, role=role, previous=previous)
    db.session.commit()
    return {"email": email, "role": role, "added_at": iso(member.created_at)}


def _member(project: ProjectRef, email: str) -> Membership | None:
    return db.session.scalar(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project.id, User.email == email)
    )


def remove_member(project: ProjectRef, actor: str, email: str) -> None:
    """Remove a member and revoke their keys, or withdraw a pending invitation; a member who
    removes themselves has left. 404 when neither, 409 for the last admin."""
    email = normalise_email(email)
    member = _member(project, email)
    if member is None:
        if withdraw(project, actor, email):
            db.session.commit()
            return
        raise HttpError(404, f"'{email}' is not a member of this project.")
    if member.role == "admin" and _admin_count(project.id) <= 1:
        raise HttpError(409, "The last admin cannot be removed.")
    db.session.delete(member)
    action = "member.left" if actor == email else "member.removed"  # a session's actor: its email
    log_event(project.id, actor, action, None, email=email)
    revoke_keys_of(project.id, member.user_id, actor)  # same transaction: none outlives removal
    db.session.commit()
