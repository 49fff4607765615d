"""The admin's Webhooks page (admins only): each webhook with its last deliveries (status,
attempts, response code), and forms to add, enable or disable, delete, and redeliver; the same
services as the API."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from webapi.admin.common import bp, flash_error
from webapi.auth.principal import ProjectAccess
from webapi.auth.roles import project_role
from webapi.errors import HttpError
from webapi.services.webhooks import (
    create_webhook,
    delete_webhook,
    list_webhooks,
    recent_deliveries,
    redeliver,
    update_webhook,
)

ONE = "/p/<p>/webhooks/<int(max=2147483647):webhook_id>"


def _page(access: ProjectAccess, status: int = 200, **extra: Any) -> Any:
    return render_template("admin/webhooks.html", project=access.project, role=access.role,
                           webhooks=list_webhooks(access.project),
                           deliveries=recent_deliveries(access.project), **extra), status


@bp.get("/p/<p>/webhooks")
def webhooks(p: str) -> Any:
    """Every webhook with its last five deliveries, and the form to add one."""
    return _page(project_role(p, "admin"))


@bp.post("/p/<p>/webhooks")
def new_webhook(p: str) -> Any:
    """Add a webhook; its secret is shown in this response only (never redirected)."""
    access = project_role(p, "admin")
    url = request.form.get("url", "").strip()
    raw = request.form.get("events", "").replace(",", " ").split()
    try:
        created = create_webhook(access, url, raw or None)
    except HttpError as exc:
        if exc.status not in (400, 409):
            raise
        flash_error(exc)
        return _page(access, exc.status, form={"url": url, "events": " ".join(raw)})
    return _page(access, 201, created=created)


@bp.post(ONE + "/<any(enable, disable):verb>")
def switch_webhook(p: str, webhook_id: int, verb: str) -> Any:
    """Turn a webhook off, or on again (its pending deliveries resume)."""
    access = project_role(p, "admin")
    try:
        update_webhook(access, webhook_id, enabled=verb == "enable")
        flash(f"Webhook {webhook_id} {verb}d.", "success")
    except HttpError as exc:
        if exc.status != 404:
            raise
        flash_error(exc)
    return redirect(url_for("admin.webhooks", p=p))


@bp.post(ONE + "/delete")
def remove_webhook(p: str, webhook_id: int) -> Any:
    """Delete a webhook and its delivery log."""
    access = project_role(p, "admin")
    try:
        delete_webhook(access, webhook_id)
        flash(f"Webhook {webhook_id} deleted: nothing more is sent to it.", "success")
    except HttpError as exc:
        if exc.status != 404:
            raise
        flash_error(exc)
    return redirect(url_for("admin.webhooks", p=p))


@bp.post(ONE + "/deliveries/<delivery_id>/redeliver")
def redeliver_one(p: str, webhook_id: int, delivery_id: str) -> Any:
    """Send a delivery's event again, as a new delivery."""
    access = project_role(p, "admin")
    try:
        again = redeliver(access, webhook_id, delivery_id)
        flash(f"Queued again as delivery {again['id']}.", "success")
    except HttpError as exc:
        if exc.status != 404:
            raise
        flash_error(exc)
    return redirect(url_for("admin.webhooks", p=p))
