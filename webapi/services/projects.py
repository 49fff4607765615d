"""Projects and their members: creating a project, listing a caller's projects, setting roles."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLES, Membership, Project, User, iso
from webapi.services.accounts import normalise_email
from webapi.services.events import log_event
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
    """Add a user to the project or change their role; 409 when it would leave no admin."""
    if role not in ROLES:
        raise HttpError(400, "'role' must be one of viewer, editor, admin.")
    assert isinstance(role, str)
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise HttpError(404, f"No user with email '{email}': they must sign up first.")
    member = db.session.scalar(
        select(Membership).where(Membership.project_id == project.id, Membership.user_id == user.id)
    )
    if member is None:
        member = Membership(project_id=project.id, user_id=user.id, role=role)
        db.session.add(member)
        previous = None
    else:
        previous = member.role
        if previous == "admin" and role != "admin" and _admin_count(project.id) <= 1:
            raise HttpError(409, "A project needs at least one admin; promote someone else first.")
        member.role = role
    log_event(project.id, actor, "member.set", None, email=user.email, role=role, previous=previous)
    db.session.commit()
    return {"email": user.email, "role": role, "added_at": iso(member.created_at)}


def remove_member(project: ProjectRef, actor: str, email: str) -> None:
    """Remove a member and revoke their keys; 404 when not a member, 409 for the last admin."""
    member = db.session.scalar(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project.id, User.email == email.strip().lower())
    )
    if member is None:
        raise HttpError(404, f"'{email}' is not a member of this project.")
    if member.role == "admin" and _admin_count(project.id) <= 1:
        raise HttpError(409, "The last admin cannot be removed.")
    db.session.delete(member)
    log_event(project.id, actor, "member.removed", None, email=email.strip().lower())
    revoke_keys_of(project.id, member.user_id, actor)  # same transaction: none outlives removal
    db.session.commit()
