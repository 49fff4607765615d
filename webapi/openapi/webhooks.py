"""The OpenAPI description of a project's webhooks (SPEC §12): their schemas, bodies and
operations."""

from __future__ import annotations

from typing import Any

from webapi.openapi.operations import ANY_READ, ANY_WRITE, CURSOR, LIMIT, op, param
from webapi.openapi.schemas import INT, NULL_INT, NULL_STR, STR, array, obj, page, ref

BOOL = {"type": "boolean"}
URL = {"type": "string", "minLength": 1, "maxLength": 2000,
       "description": "http(s); refused (400) when it resolves to a loopback, private or "
                      "link-local address, unless the server sets WEBHOOK_ALLOW_PRIVATE."}
EVENTS = array({"type": "string", "maxLength": 63}, minItems=1, maxItems=50,
               description='Event actions ("version.created", "label.moved", …) or ["*"].')
STATUS = {"type": "string", "enum": ["pending", "delivered", "failed"]}
WEBHOOK = {"id": INT, "url": STR, "events": array(STR), "enabled": BOOL, "created_by": STR,
           "created_at": STR, "failing_since": NULL_STR, "disabled_reason": NULL_STR}

SCHEMAS: dict[str, Any] = {
    "Webhook": obj(WEBHOOK),
    "WebhookCreated": obj({**WEBHOOK, "secret": {
        "type": "string", "description": "The signing secret, shown in this answer only."}}),
    "WebhookList": page("webhooks", "Webhook", cursor=False),
    "Delivery": obj({"id": STR, "event_id": INT, "action": STR, "slug": NULL_STR,
                     "status": STATUS, "attempts": INT, "response_code": NULL_INT,
                     "last_error": NULL_STR, "created_at": STR, "last_attempt_at": NULL_STR,
                     "next_attempt_at": NULL_STR, "delivered_at": NULL_STR,
                     "redelivery_of": NULL_STR}),
    "DeliveryList": page("deliveries", "Delivery"),
    "Redelivered": obj({"delivery": ref("Delivery")}),
}
BODIES: dict[str, Any] = {
    "NewWebhook": obj({"url": URL, "events": EVENTS}, {
        "secret": {"type": "string", "minLength": 16, "maxLength": 200,
                   "description": "Printable ASCII; left out, one is made."},
        "enabled": BOOL}),
    "WebhookChange": obj({}, {"url": URL, "events": EVENTS, "enabled": BOOL}),
}
EXAMPLES: dict[str, Any] = {
    "NewWebhook": {"url": "https://hooks.example.com/promptsync",
                   "events": ["label.moved", "version.created"]},
    "WebhookChange": {"enabled": True},
}



def webhook_paths(p: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The webhook operations (admin only) under /projects/{project}; ``p`` is the project
    parameter."""
    read, write, paging = ANY_READ, ANY_WRITE, (LIMIT, CURSOR)
    base = "/projects/{project}/webhooks"
    one = p + (param("webhook_id", "path", {"type": "integer", "minimum": 0},
                     "The webhook's id."),)
    delivery = one + (param("delivery_id", "path", {"type": "string", "maxLength": 36},
                            "The delivery's id (its X-Promptsync-Delivery header)."),)

    def with_body(operation: dict[str, Any], body: str) -> dict[str, Any]:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": ref(body), "example": EXAMPLES[body]}}}
        operation["responses"]["413"] = {"$ref": "#/components/responses/TooLarge"}
        return operation

    return {
        base: {
            "get": op("list_webhooks", "The project's webhooks (admin)", "webhooks", read,
                      {200: "WebhookList"}, (404,), p),
            "post": with_body(op(
                "create_webhook", "Add a webhook; its signing secret is in this answer only "
                "(admin)", "webhooks", write, {201: "WebhookCreated"}, (404, 409), p),
                "NewWebhook"),
        },
        f"{base}/{{webhook_id}}": {
            "get": op("get_webhook", "One webhook (admin)", "webhooks", read, {200: "Webhook"},
                      (404,), one),
            "patch": with_body(op(
                "update_webhook", "Change a webhook's URL, events or enabled flag; enabling it "
                "again resumes its pending deliveries (admin)", "webhooks", write,
                {200: "Webhook"}, (404,), one), "WebhookChange"),
            "delete": op("delete_webhook", "Delete a webhook and its delivery log (admin)",
                         "webhooks", write, {204: None}, (404,), one),
        },
        f"{base}/{{webhook_id}}/deliveries": {"get": op(
            "list_deliveries", "A webhook's deliveries, newest first: status, attempts, last "
            "response code (admin)", "webhooks", read, {200: "DeliveryList"}, (404,),
            one + paging)},
        f"{base}/{{webhook_id}}/deliveries/{{delivery_id}}/redeliver": {"post": op(
            "redeliver", "Send a delivery's event again, as a new delivery due now (admin)",
            "webhooks", write, {202: "Redelivered"}, (404,), delivery)},
    }
