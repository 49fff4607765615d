"""What the caller may do in a project: their role there, checked against what an action needs."""

from __future__ import annotations

from sqlalchemy import select

from webapi.auth.caller import require_principal
from webapi.auth.principal import ProjectAccess, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import ROLE_RANK, Membership, Project


def project_role(project_slug: str, minimum: str) -> ProjectAccess:
    """The project and the caller's role in it, or 401/403/404 when it is not enough."""
    principal = require_principal()
    if principal.is_key:
        if project_slug != principal.key_project_slug:
            if db.session.scalar(select(Project.id).where(Project.slug == project_slug)) is None:
                raise HttpError(404, f"No project '{project_slug}'.")
            raise HttpError(403, "This API key belongs to another project.")
        assert principal.key_project_id is not None
        project = ProjectRef(principal.key_project_id, project_slug)
        role = principal.key_role or "viewer"
    else:
        row = db.session.execute(
            select(Project.id, Membership.role)
            .join(Membership, Membership.project_id == Project.id)
            .where(Project.slug == project_slug, Membership.user_id == principal.user_id)
        ).first()
        if row is None:
            # Non-members learn nothing about whether the project exists.
            raise HttpError(404, f"No project '{project_slug}'.")
        project, role = ProjectRef(row[0], project_slug), row[1]
    if ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise HttpError(403, f"This needs the {minimum} role; you have {role}.")
    return ProjectAccess(project, role, principal)


def key_project_slug() -> str:
    """The project of the calling API key, for the /api/v1/prompts shorthand."""
    principal = require_principal()
    if not principal.is_key or principal.key_project_slug is None:
        raise HttpError(400, "The /prompts shorthand needs an API key; use /projects/{p}/prompts.")
    return principal.key_project_slug


def require_key_manager(project_slug: str) -> ProjectAccess:
    """Who may manage keys: any member signed in as a user, or an admin API key; 401/403/404."""
    # A viewer or editor key cannot mint, list or revoke keys, so a leaked key cannot be used to
    # make more. The admin's API keys page goes through here too: both answer to the same rules.
    access = project_role(project_slug, "viewer")
    if access.principal.is_key and access.role != "admin":
        raise HttpError(
            403, f"An API key with the {access.role} role cannot manage keys: sign in (promptsync "
                 "login, or /admin) to manage your own keys, or use an admin key."
        )
    return access
