"""A project's webhooks (SPEC §12, admin): create, list, read, change, delete; the delivery
log and redelivery. The sending is webapi/webhooks/'s."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from webapi.api.inputs import body_as
from webapi.auth.roles import project_role
from webapi.paging import encode_cursor, int_cursor_arg, limit_arg
from webapi.services.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
    redeliver,
    update_webhook,
)
from webapi.shapes.bodies import NewWebhook, WebhookChange

bp = Blueprint("webhooks", __name__)
# max: a larger id overflows the INTEGER column (a 500 on SQLite); beyond it is a plain 404.
ONE = "/projects/<p>/webhooks/<int(max=2147483647):webhook_id>"


@bp.post("/projects/<p>/webhooks")
def post_webhook(p: str) -> Any:
    access = project_role(p, "admin")
    body = body_as(NewWebhook)
    created = create_webhook(access, body.url, body.events, body.secret, body.enabled)
    return jsonify(created), 201


@bp.get("/projects/<p>/webhooks")
def get_webhooks(p: str) -> Any:
    return jsonify(webhooks=list_webhooks(project_role(p, "admin").project))


@bp.get(ONE)
def get_one(p: str, webhook_id: int) -> Any:
    return jsonify(get_webhook(project_role(p, "admin").project, webhook_id))


@bp.patch(ONE)
def patch_webhook(p: str, webhook_id: int) -> Any:
    access = project_role(p, "admin")
    body = body_as(WebhookChange)
    return jsonify(update_webhook(access, webhook_id, body.url, body.events, body.enabled))


@bp.delete(ONE)
def remove_webhook(p: str, webhook_id: int) -> Any:
    delete_webhook(project_role(p, "admin"), webhook_id)
    return "", 204


@bp.get(ONE + "/deliveries")
def get_deliveries(p: str, webhook_id: int) -> Any:
    project = project_role(p, "admin").project
    page, after = list_deliveries(project, webhook_id, limit_arg(), int_cursor_arg())
    return jsonify(deliveries=page, next=encode_cursor(after) if after is not None else None)


@bp.post(ONE + "/deliveries/<delivery_id>/redeliver")
def post_redeliver(p: str, webhook_id: int, delivery_id: str) -> Any:
    access = project_role(p, "admin")
    return jsonify(delivery=redeliver(access, webhook_id, delivery_id)), 202
