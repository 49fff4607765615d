"""Admin pages for a project's API keys (every member: their own; admins: all), members and
invitations.

The keys pages answer to the API's own rules (``auth.roles.require_key_manager`` and
``services.keys``): who may open them, which keys a member sees and may revoke, and which roles
a new key may have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from webapi.admin.common import bp, flash_error
from webapi.auth.caller import require_user
from webapi.auth.keys import split_key
from webapi.auth.principal import ProjectAccess
from webapi.auth.roles import project_role, require_key_manager
from webapi.errors import HttpError
from webapi.models import ROLES
from webapi.services.invitations import accept, decline, project_invitations
from webapi.services.keys import creatable_roles, create_key, revoke_key, visible_keys
from webapi.services.projects import members_of, remove_member, set_member


def _dev_key_prefix() -> str | None:
    """On a `promptsync dev` server, the prefix of the key dev and watch use; else None."""
    # Read at each page: dev writes a new key there when the old one was revoked.
    path = current_app.config.get("DEV_KEY_FILE")
    if not path:
        return None
    try:
        return split_key(Path(path).read_text(encoding="utf-8").strip())
    except (OSError, UnicodeError):
        return None


def _keys_page(access: ProjectAccess, status: int = 200, **extra: Any) -> Any:
    return render_template("admin/keys.html", project=access.project, role=access.role,
                           roles=creatable_roles(access.role), keys=visible_keys(access),
                           dev_prefix=_dev_key_prefix(), **extra), status


@bp.get("/p/<p>/keys")
def keys(p: str) -> Any:
    """Active keys (prefix, role, created, last used) and the create form; a member's own only."""
    return _keys_page(require_key_manager(p))


@bp.post("/p/<p>/keys")
def new_key(p: str) -> Any:
    """Mint a key and show its plaintext in this response only (never stored, never redirected)."""
    access = require_key_manager(p)
    name = request.form.get("name", "").strip()
    key_role = request.form.get("role", "")
    try:
        created = create_key(access, name, key_role)
    except HttpError as exc:
        if exc.status not in (400, 403):
            raise
        flash_error(exc)
        return _keys_page(access, exc.status, form={"name": name, "role": key_role})
    # Rendered directly rather than redirected, so the secret never sits in the session cookie.
    return _keys_page(access, 201, created=created)


# max: a larger id overflows the INTEGER column (a 500 on SQLite); beyond it is a plain 404.
@bp.post("/p/<p>/keys/<int(max=2147483647):key_id>/revoke")
def revoke(p: str, key_id: int) -> Any:
    """Revoke a key (a member only one they created); it is refused from the next request on."""
    access = require_key_manager(p)
    try:
        revoke_key(access, key_id)
        flash("Key revoked: requests with it now get 401.", "success")
    except HttpError as exc:
        if exc.status not in (403, 404):
            raise
        flash_error(exc)  # another member's key, or gone already (a second tab): say so
    return redirect(url_for("admin.keys", p=p))


@bp.get("/p/<p>/members")
def members(p: str) -> Any:
    """Members and their roles, pending invitations, and forms to invite, change and remove."""
    access = project_role(p, "admin")
    return render_template("admin/members.html", project=access.project, role=access.role,
                           roles=ROLES, members=members_of(access.project),
                           invitations=project_invitations(access.project),
                           me=access.principal.email)


@bp.post("/p/<p>/members")
def set_role(p: str) -> Any:
    """Invite an email (whether or not it has an account), or change a member's role."""
    access = project_role(p, "admin")
    email = request.form.get("email", "").strip()
    try:
        member = set_member(access.project, access.principal.actor, email,
                            request.form.get("role"))
        if "invitation" in member:
            invitation = member["invitation"]
            flash(f"Invited {invitation['email']} as {invitation['role']}: they join when they "
                  f"accept, after signing up if they have no account yet.", "success")
        else:
            flash(f"{member['email']} is now {member['role']}.", "success")
    except HttpError as exc:
        if exc.status not in (400, 404, 409):
            raise
        flash_error(exc)
    return redirect(url_for("admin.members", p=p))


@bp.post("/invitations/<int(max=2147483647):invitation_id>/<any(accept, decline):answer>")
def answer_invitation(invitation_id: int, answer: str) -> Any:
    """The invitee joins the project, or turns the invitation down (from the projects page)."""
    principal = require_user()
    try:
        if answer == "accept":
            joined = accept(invitation_id, principal.user_id, principal.email)
            flash(f"You joined '{joined['slug']}' as {joined['role']}.", "success")
            return redirect(url_for("admin.prompt_list", p=joined["slug"]))
        decline(invitation_id, principal.email)
        flash("Invitation declined.", "success")
    except HttpError as exc:
        if exc.status != 404:
            raise
        flash_error(exc)
    return redirect(url_for("admin.projects"))


@bp.post("/p/<p>/members/remove")
def remove(p: str) -> Any:
    """Remove a member (never the last admin), or withdraw a pending invitation."""
    access = project_role(p, "admin")
    email = request.form.get("email", "").strip()
    try:
        remove_member(access.project, access.principal.actor, email)
        flash(f"Removed {email} from the project.", "success")
    except HttpError as exc:
        if exc.status not in (404, 409):
            raise
        flash_error(exc)
    return redirect(url_for("admin.members", p=p))
