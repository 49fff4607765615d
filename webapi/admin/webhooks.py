"""The admin's Webhooks page (admins only): each webhook with its last deliveries (status,
attempts, response code), and forms to add, edit, enable or disable, delete, and redeliver; the
same services as the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from webapi.admin.common import bp, flash_error
from webapi.auth.principal import ProjectAccess
from webapi.auth.roles import project_role
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.services.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_webhooks,
    recent_deliveries,
    redeliver,
    update_webhook,
)

ONE = "/p/<p>/webhooks/<int(max=2147483647):webhook_id>"


@contextmanager
def _gone_is_flashed() -> Iterator[None]:
    """A webhook or delivery deleted meanwhile (404) is said on the page it returns to."""
    try:
        yield
    except HttpError as exc:
        if exc.status != 404:
            raise
        flash_error(exc)


def _events_typed(raw: str) -> list[str]:
    """The event names typed in a form: separated by spaces or commas."""
    return raw.replace(",", " ").split()


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
    raw = _events_typed(request.form.get("events", ""))
    try:
        created = create_webhook(access, url, raw or None)
    except HttpError as exc:
        if exc.status not in (400, 409):
            raise
        flash_error(exc)
        return _page(access, exc.status, form={"url": url, "events": " ".join(raw)})
    return _page(access, 201, created=created)


def _edit_page(access: ProjectAccess, webhook: dict[str, Any], form: dict[str, Any],
               status: int = 200, error: HttpError | None = None) -> Any:
    return render_template("admin/webhook_edit.html", project=access.project, role=access.role,
                           webhook=webhook, form=form, error=error), status


@bp.get(ONE + "/edit")
def edit_webhook(p: str, webhook_id: int) -> Any:
    """The form to change a webhook's URL, events and enabled flag (its secret stays)."""
    access = project_role(p, "admin")
    webhook = get_webhook(access.project, webhook_id)
    return _edit_page(access, webhook, {"url": webhook["url"],
                                        "events": " ".join(webhook["events"]),
                                        "enabled": webhook["enabled"]})


@bp.post(ONE + "/edit")
def save_webhook(p: str, webhook_id: int) -> Any:
    """Save the edit form through the API's PATCH service; a refusal keeps what was typed."""
    access = project_role(p, "admin")
    webhook = get_webhook(access.project, webhook_id)
    typed_url = request.form.get("url", "").strip()
    typed_events = request.form.get("events", "")
    typed_on = request.form.get("enabled") == "on"
    form = {"url": typed_url, "events": typed_events, "enabled": typed_on}
    names = _events_typed(typed_events)
    # Only what changed goes to the service, as a PATCH would send it: the activity then says
    # what the edit did, and an unchanged tick does not clear a failing webhook's failures.
    url = typed_url if typed_url != webhook["url"] else None
    events = names if sorted(set(names)) != webhook["events"] else None
    enabled = typed_on if typed_on != webhook["enabled"] else None
    if url is None and events is None and enabled is None:
        flash(f"Webhook {webhook_id} unchanged.", "success")
        return redirect(url_for("admin.webhooks", p=p, _anchor=f"webhook-{webhook_id}"))
    try:
        update_webhook(access, webhook_id, url, events, enabled)
    except HttpError as exc:
        if exc.status != 400:
            raise
        db.session.rollback()  # a field checked before the refused one was set on the row
        return _edit_page(access, webhook, form, 400, exc)
    flash(f"Webhook {webhook_id} saved.", "success")
    return redirect(url_for("admin.webhooks", p=p, _anchor=f"webhook-{webhook_id}"))


@bp.post(ONE + "/<any(enable, disable):verb>")
def switch_webhook(p: str, webhook_id: int, verb: str) -> Any:
    """Turn a webhook off, or on again (its pending deliveries resume)."""
    access = project_role(p, "admin")
    with _gone_is_flashed():
        update_webhook(access, webhook_id, enabled=verb == "enable")
        flash(f"Webhook {webhook_id} {verb}d.", "success")
    return redirect(url_for("admin.webhooks", p=p))


@bp.post(ONE + "/delete")
def remove_webhook(p: str, webhook_id: int) -> Any:
    """Delete a webhook and its delivery log."""
    access = project_role(p, "admin")
    with _gone_is_flashed():
        delete_webhook(access, webhook_id)
        flash(f"Webhook {webhook_id} deleted: nothing more is sent to it.", "success")
    return redirect(url_for("admin.webhooks", p=p))


@bp.post(ONE + "/deliveries/<delivery_id>/redeliver")
def redeliver_one(p: str, webhook_id: int, delivery_id: str) -> Any:
    """Send a delivery's event again, as a new delivery."""
    access = project_role(p, "admin")
    with _gone_is_flashed():
        again = redeliver(access, webhook_id, delivery_id)
        flash(f"Queued again as delivery {again['id']}.", "success")
    return redirect(url_for("admin.webhooks", p=p))
