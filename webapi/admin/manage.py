"""Admin pages for a project's API keys and members (project admins only)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from ..api.keys import create_key, list_keys, revoke_key
from ..api.projects import member_dicts, remove_member, set_member
from ..errors import HttpError
from ..models import ROLES
from .common import bp, flash_error, member_of


def _keys_page(p: str, status: int = 200, **extra: Any) -> Any:
    project, role, _ = member_of(p, "admin")
    return render_template("admin/keys.html", project=project, role=role, roles=ROLES,
                           keys=list_keys(project), **extra), status


@bp.get("/p/<p>/keys")
def keys(p: str) -> Any:
    """The project's active keys (prefix, role, created, last used) and the create form."""
    return _keys_page(p)


@bp.post("/p/<p>/keys")
def new_key(p: str) -> Any:
    """Mint a key and show its plaintext in this response only (never stored, never redirected)."""
    project, role, principal = member_of(p, "admin")
    name = request.form.get("name", "").strip()
    key_role = request.form.get("role", "")
    try:
        created = create_key(project, principal, role, name, key_role)
    except HttpError as exc:
        if exc.status not in (400, 403):
            raise
        flash_error(exc)
        return _keys_page(p, exc.status, form={"name": name, "role": key_role})
    # Rendered directly rather than redirected, so the secret never sits in the session cookie.
    return _keys_page(p, 201, created=created)


@bp.post("/p/<p>/keys/<int:key_id>/revoke")
def revoke(p: str, key_id: int) -> Any:
    """Revoke a key; it is refused from the next request on."""
    project, _, principal = member_of(p, "admin")
    try:
        revoke_key(project, principal, key_id)
        flash("Key revoked: requests with it now get 401.", "success")
    except HttpError as exc:
        if exc.status != 404:
            raise
        flash_error(exc)
    return redirect(url_for("admin.keys", p=p))


@bp.get("/p/<p>/members")
def members(p: str) -> Any:
    """Members and their roles, with forms to add, change and remove."""
    project, role, principal = member_of(p, "admin")
    return render_template("admin/members.html", project=project, role=role, roles=ROLES,
                           members=member_dicts(project.id), me=principal.email)


@bp.post("/p/<p>/members")
def set_role(p: str) -> Any:
    """Add a signed-up user by email, or change a member's role."""
    project, _, principal = member_of(p, "admin")
    email = request.form.get("email", "").strip()
    try:
        member = set_member(project, principal.actor, email, request.form.get("role"))
        flash(f"{member['email']} is now {member['role']}.", "success")
    except HttpError as exc:
        if exc.status not in (400, 404, 409):
            raise
        flash_error(exc)
    return redirect(url_for("admin.members", p=p))


@bp.post("/p/<p>/members/remove")
def remove(p: str) -> Any:
    """Remove a member (never the last admin)."""
    project, _, principal = member_of(p, "admin")
    email = request.form.get("email", "").strip()
    try:
        remove_member(project, principal.actor, email)
        flash(f"Removed {email} from the project.", "success")
    except HttpError as exc:
        if exc.status not in (404, 409):
            raise
        flash_error(exc)
    return redirect(url_for("admin.members", p=p))

