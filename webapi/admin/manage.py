"""Admin pages for a project's API keys (every member: their own; admins: all) and members.

The keys pages go through the API's own rules (``api.keys``): who may open them, which keys a
member sees and may revoke, and which roles a new key may have.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from webapi.admin.common import bp, flash_error, member_of
from webapi.api.keys import creatable_roles, create_key, key_manager, revoke_key, visible_keys
from webapi.api.projects import member_dicts, remove_member, set_member
from webapi.errors import HttpError
from webapi.models import ROLES


def _keys_page(p: str, status: int = 200, **extra: Any) -> Any:
    project, role, principal = key_manager(p)
    return render_template("admin/keys.html", project=project, role=role,
                           roles=creatable_roles(role), keys=visible_keys(project, role, principal),
                           **extra), status


@bp.get("/p/<p>/keys")
def keys(p: str) -> Any:
    """Active keys (prefix, role, created, last used) and the create form; a member's own only."""
    return _keys_page(p)


@bp.post("/p/<p>/keys")
def new_key(p: str) -> Any:
    """Mint a key and show its plaintext in this response only (never stored, never redirected)."""
    project, role, principal = key_manager(p)
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


# max: a larger id overflows the INTEGER column (a 500 on SQLite); beyond it is a plain 404.
@bp.post("/p/<p>/keys/<int(max=2147483647):key_id>/revoke")
def revoke(p: str, key_id: int) -> Any:
    """Revoke a key (a member only one they created); it is refused from the next request on."""
    project, role, principal = key_manager(p)
    try:
        revoke_key(project, principal, key_id, role)
        flash("Key revoked: requests with it now get 401.", "success")
    except HttpError as exc:
        if exc.status not in (403, 404):
            raise
        flash_error(exc)  # another member's key, or gone already (a second tab): say so
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

