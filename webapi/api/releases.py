"""Releases: a project's release settings, its promotion requests, and a label's history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from webapi.api.inputs import body_as
from webapi.auth.principal import ProjectRef
from webapi.auth.roles import project_role
from webapi.paging import encode_cursor, int_cursor_arg, limit_arg
from webapi.services.moves import label_history as moves_of
from webapi.services.promotions import approve, list_requests, reject
from webapi.services.protection import release_settings, update_settings
from webapi.shapes.bodies import ReleaseSettingsChange

bp = Blueprint("releases", __name__)


@bp.get("/projects/<p>/settings")
def get_settings(p: str) -> Any:
    project = project_role(p, "admin").project
    return jsonify(release_settings(project.id).to_dict())


@bp.put("/projects/<p>/settings")
def put_settings(p: str) -> Any:
    access = project_role(p, "admin")
    # Only the fields sent: one left out keeps its value.
    change = body_as(ReleaseSettingsChange).model_dump(exclude_unset=True)
    return jsonify(update_settings(access.project, access.principal.actor, change).to_dict())


@bp.get("/projects/<p>/promotions")
def list_promotions(p: str) -> Any:
    project = project_role(p, "viewer").project
    state = request.args.get("state") or None
    page, after = list_requests(project, state, limit_arg(), int_cursor_arg())
    return jsonify(promotions=page, next=encode_cursor(after) if after is not None else None)


@bp.post("/projects/<p>/promotions/<int:request_id>/approve")
def approve_promotion(p: str, request_id: int) -> Any:
    access = project_role(p, "admin")
    return jsonify(request=approve(access.project, request_id, access.principal))


@bp.post("/projects/<p>/promotions/<int:request_id>/reject")
def reject_promotion(p: str, request_id: int) -> Any:
    access = project_role(p, "admin")
    return jsonify(request=reject(access.project, request_id, access.principal))


def label_history(project: ProjectRef, slug: str, label: str) -> Any:
    """GET …/prompts/{slug}/-/labels/{label}/history (viewer): the label's moves, newest first."""
    rows, after = moves_of(project, slug, label, limit_arg(), int_cursor_arg())
    return jsonify(moves=[row.to_dict() for row in rows],
                   next=encode_cursor(after) if after is not None else None)
