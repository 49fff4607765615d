"""Admin pages for releases: pending promotion requests with their diff, approve and reject, and
the project's release settings (admins only)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from webapi.admin.common import bp, flash_error
from webapi.admin.queries import diff_lines
from webapi.auth.principal import ProjectRef
from webapi.auth.roles import project_role
from webapi.errors import HttpError
from webapi.services.moves import current_version
from webapi.services.promotions import approve, list_requests, reject, requesters
from webapi.services.protection import release_settings, update_settings
from webapi.services.versions import diff_versions, find_prompt_id

SHOWN = 50  # pending requests on the page; more is a backlog the CLI lists in full


def _review(project: ProjectRef, item: dict[str, Any]) -> dict[str, Any]:
    """A pending request with where its label points now and the diff it would ship."""
    prompt_id = find_prompt_id(project, item["slug"])
    now = current_version(prompt_id, item["label"])
    lines = None
    if item["version"] is not None:
        # Version 0 is the empty text: a label that does not exist yet shows the whole prompt.
        diff = diff_versions(project, item["slug"], str(now or 0), str(item["version"]))
        lines = diff_lines(diff.text)
    return {**item, "now": now, "moved": now != item["from_version"], "lines": lines}


@bp.get("/p/<p>/promotions")
def promotions(p: str) -> Any:
    """Pending requests, each with its diff against the label's current version; the settings."""
    access = project_role(p, "admin")
    pending, more = list_requests(access.project, "pending", SHOWN)
    decided = [r for r in list_requests(access.project, None, 20)[0] if r["state"] != "pending"]
    opened_by = requesters([r["id"] for r in pending])
    reviews = [{**_review(access.project, r), "mine": opened_by[r["id"]] ==
                access.principal.user_id} for r in pending]
    return render_template("admin/promotions.html", project=access.project, role=access.role,
                           reviews=reviews, more=more is not None, decided=decided,
                           settings=release_settings(access.project.id))


@bp.post("/p/<p>/promotions/<int(max=2147483647):request_id>/<any(approve, reject):verb>")
def decide(p: str, request_id: int, verb: str) -> Any:
    """Approve (another admin's request) or reject one; the outcome as a message."""
    access = project_role(p, "admin")
    act = approve if verb == "approve" else reject
    try:
        done = act(access.project, request_id, access.principal)
    except HttpError as exc:
        if exc.status not in (403, 404, 409):
            raise
        flash_error(exc)
    else:
        target = f"v{done['version']}" if done["version"] is not None else "removed"
        if done["state"] == "approved":
            flash(f"Approved request #{request_id}: {done['slug']} {done['label']} → {target}.",
                  "success")
        elif done["state"] == "rejected":
            flash(f"Rejected request #{request_id}; {done['label']} stays where it is.",
                  "success")
        else:
            flash(f"Approved request #{request_id}; it waits for another admin.", "info")
    return redirect(url_for("admin.promotions", p=p))


def _names(field: str) -> list[str]:
    return [n.strip() for n in request.form.get(field, "").replace(",", " ").split() if n.strip()]


@bp.post("/p/<p>/settings")
def save_settings(p: str) -> Any:
    """Save the release settings form (the same checks as PUT /settings)."""
    access = project_role(p, "admin")
    raw = request.form.get("approvals_required", "0").strip()
    body: dict[str, Any] = {
        "protected_labels": _names("protected_labels"),
        "approvals_required": int(raw) if raw.isdigit() and len(raw) < 4 else raw,
        "protected_requires_clean_commit": request.form.get("clean_commit") == "on",
        "protected_branches": _names("protected_branches"),
    }
    try:
        update_settings(access.project, access.principal.actor, body)
    except HttpError as exc:
        if exc.status != 400:
            raise
        flash_error(exc)
    else:
        flash("Saved the release settings.", "success")
    return redirect(url_for("admin.promotions", p=p) + "#settings")
