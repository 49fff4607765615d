"""Projects, their members and their audit log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from webapi.api.inputs import body_as
from webapi.api.streams import follow_events
from webapi.auth.caller import require_principal, require_user
from webapi.auth.roles import project_role
from webapi.paging import encode_cursor, int_cursor_arg, limit_arg
from webapi.services.events import event_page
from webapi.services.invitations import project_invitations
from webapi.services.projects import (
    create_project,
    members_of,
    projects_of,
    remove_member,
    set_member,
)
from webapi.shapes.bodies import MemberRole, NewProject

bp = Blueprint("projects", __name__)


@bp.post("/projects")
def post_project() -> Any:
    principal = require_user()
    body = body_as(NewProject)
    result = create_project(principal.user_id, principal.actor, body.slug, body.name)
    return jsonify(result), 201


@bp.get("/projects")
def list_projects() -> Any:
    return jsonify(projects=projects_of(require_principal()))


@bp.get("/projects/<p>/members")
def list_members(p: str) -> Any:
    project = project_role(p, "admin").project
    return jsonify(members=members_of(project), invitations=project_invitations(project))


@bp.put("/projects/<p>/members/<email>")
def put_member(p: str, email: str) -> Any:
    access = project_role(p, "admin")
    role = body_as(MemberRole).role
    result = set_member(access.project, access.principal.actor, email, role)
    return jsonify(result), 202 if "invitation" in result else 200


@bp.delete("/projects/<p>/members/<email>")
def delete_member(p: str, email: str) -> Any:
    principal = require_principal()
    # Any member may leave (as a user: a key is the project's, not its creator's to resign);
    # removing someone else, or withdrawing an invitation, needs an admin.
    leaving = not principal.is_key and email.strip(" ").lower() == principal.email
    access = project_role(p, "viewer" if leaving else "admin")
    remove_member(access.project, access.principal.actor, email)
    return "", 204


@bp.get("/projects/<p>/events")
def list_events(p: str) -> Any:
    project = project_role(p, "viewer").project
    followed = follow_events(project, limit_arg())
    if followed is not None:  # ?after= and/or ?wait=: the long poll, oldest first
        return jsonify(events=followed, next=None)
    rows, after = event_page(project, limit_arg(), int_cursor_arg())
    return jsonify(
        events=[e.to_dict() for e in rows],
        next=encode_cursor(after) if after is not None else None,
    )
