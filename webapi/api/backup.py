"""Project export and import (admin): a whole project as one JSON document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from webapi.api.inputs import json_body
from webapi.auth.roles import project_role
from webapi.services.backup import export_project, import_project
from webapi.shapes.bodies import Export
from webapi.shapes.refusal import validated

bp = Blueprint("backup", __name__)


@bp.get("/projects/<p>/export")
def get_export(p: str) -> Any:
    project = project_role(p, "admin").project
    response = jsonify(export_project(project))
    response.headers["Cache-Control"] = "no-store"  # every source of the project
    response.headers["Content-Disposition"] = f'attachment; filename="{project.slug}.json"'
    return response


@bp.post("/projects/<p>/import")
def post_import(p: str) -> Any:
    access = project_role(p, "admin")
    document = json_body()
    # Its shape, worded as the import words the rest (keys it knows or not, each git object).
    validated(Export, document, "Not a promptsync export: ")
    return jsonify(imported=import_project(access.project, access.principal, document)), 201
