"""Admin forms that archive and restore a prompt, over the same services as the API."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from webapi.admin.common import bp, flash_error
from webapi.auth.roles import project_role
from webapi.errors import HttpError
from webapi.services.lifecycle import archive_prompt, restore_prompt


@bp.post("/p/<p>/prompts/<path:slug>/-/archive")
def archive(p: str, slug: str) -> Any:
    """Archive the prompt as of the version the page showed (editors; force: admins)."""
    access = project_role(p, "editor")
    raw = request.form.get("expected_version", "")
    expected = int(raw) if raw.isdigit() and len(raw) < 10 else None
    force = request.form.get("force") == "yes"
    try:
        archive_prompt(access.project, slug, access.principal, access.role, expected, force)
    except HttpError as exc:
        if exc.status not in (403, 404, 409):
            raise
        flash_error(exc)
        return redirect(url_for("admin.prompt_page", p=p, slug=slug) + "#lifecycle")
    flash(f"Archived {slug}: apps fetching it by label or latest now get 410; its versions "
          "are kept.", "success")
    return redirect(url_for("admin.prompt_list", p=p) + "#archived")


@bp.post("/p/<p>/prompts/<path:slug>/-/restore")
def restore(p: str, slug: str) -> Any:
    """Bring an archived prompt back with its versions (editors); labels are not restored."""
    access = project_role(p, "editor")
    try:
        restored = restore_prompt(access.project, slug, access.principal)
    except HttpError as exc:
        if exc.status not in (404, 409):
            raise
        flash_error(exc)
    else:
        flash(f"Restored {slug} at v{restored['version']}; set its labels again if apps "
              "fetch it by label.", "success")
    return redirect(url_for("admin.prompt_page", p=p, slug=slug))
