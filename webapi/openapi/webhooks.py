"""The OpenAPI operations of a project's webhooks (SPEC §12); their shapes are in
webapi/shapes/."""

from __future__ import annotations

from typing import Any

from webapi.openapi.operations import ANY_READ, ANY_WRITE, CURSOR, LIMIT, op, param
from webapi.shapes.answers import (
    DeliveryList,
    Redelivered,
    Webhook,
    WebhookCreated,
    WebhookList,
)
from webapi.shapes.bodies import NewWebhook, WebhookChange


def webhook_paths(p: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The webhook operations (admin only) under /projects/{project}; ``p`` is the project
    parameter."""
    read, write, paging = ANY_READ, ANY_WRITE, (LIMIT, CURSOR)
    base = "/projects/{project}/webhooks"
    one = p + (param("webhook_id", "path", {"type": "integer", "minimum": 0},
                     "The webhook's id."),)
    delivery = one + (param("delivery_id", "path", {"type": "string", "maxLength": 36},
                            "The delivery's id (its X-Promptsync-Delivery header)."),)
    return {
        base: {
            "get": op("list_webhooks", "The project's webhooks (admin)", "webhooks", read,
                      {200: WebhookList}, (404,), p),
            "post": op("create_webhook", "Add a webhook; its signing secret is in this answer "
                       "only (admin)", "webhooks", write, {201: WebhookCreated}, (404, 409), p,
                       NewWebhook),
        },
        f"{base}/{{webhook_id}}": {
            "get": op("get_webhook", "One webhook (admin)", "webhooks", read, {200: Webhook},
                      (404,), one),
            "patch": op("update_webhook", "Change a webhook's URL, events or enabled flag; "
                        "enabling it again resumes its pending deliveries (admin)", "webhooks",
                        write, {200: Webhook}, (404,), one, WebhookChange),
            "delete": op("delete_webhook", "Delete a webhook and its delivery log (admin)",
                         "webhooks", write, {204: None}, (404,), one),
        },
        f"{base}/{{webhook_id}}/deliveries": {"get": op(
            "list_deliveries", "A webhook's deliveries, newest first: status, attempts, last "
            "response code (admin)", "webhooks", read, {200: DeliveryList}, (404,),
            one + paging)},
        f"{base}/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver": {"post": op(
            "redeliver", "Send a delivery's event again, as a new delivery due now (admin)",
            "webhooks", write, {202: Redelivered}, (404,), delivery)},
    }
