"""Archive (DELETE of a prompt) and restore: the views api.prompts' dispatcher routes to."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from webapi.auth.principal import ProjectRef
from webapi.auth.roles import project_role
from webapi.errors import HttpError
from webapi.paging import int_arg
from webapi.services.lifecycle import archive_prompt, restore_prompt

FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


def flag_arg(name: str) -> bool:
    """A yes/no query argument (true, false, 1, 0), False when absent; 400 when malformed."""
    raw = request.args.get(name, "")
    if raw.lower() not in FLAGS:
        raise HttpError(400, f"'{name}' must be true or false.")
    return FLAGS[raw.lower()]


def archive(project: ProjectRef, slug: str) -> Any:
    """DELETE a prompt: archive it (204); ?expected_version=N, ?force=true (admins)."""
    access = project_role(project.slug, "editor")
    expected = int_arg("expected_version", 0)
    force = flag_arg("force")
    archive_prompt(access.project, slug, access.principal, access.role, expected, force)
    return "", 204


def restore(project: ProjectRef, slug: str) -> Any:
    """POST …/-/restore: bring an archived prompt back (200, its latest version)."""
    access = project_role(project.slug, "editor")
    return jsonify(restore_prompt(access.project, slug, access.principal))
