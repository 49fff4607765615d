"""The OpenAPI operations of releases: a project's release settings and its promotion requests
(a label's history is described with the other prompt sub-resources)."""

from __future__ import annotations

from typing import Any

from webapi.openapi.operations import ANY_READ, ANY_WRITE, CURSOR, LIMIT, op, param
from webapi.services.promotions import STATES as PROMOTION_STATES
from webapi.shapes.bodies import ReleaseSettingsChange
from webapi.shapes.prompt_answers import PromotionAnswer, PromotionList, ReleaseSettings


def release_paths(p: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The release operations under /projects/{project}; ``p`` is the project parameter."""
    base = "/projects/{project}"
    request = p + (param("promotion_id", "path", {"type": "integer", "minimum": 0},
                         "The promotion request's id."),)
    state = param("state", "query", {"type": "string", "enum": list(PROMOTION_STATES)},
                  "Only the requests in this state (default: every state).")
    return {
        f"{base}/settings": {
            "get": op("get_settings", "Release settings (admin)", "releases", ANY_READ,
                      {200: ReleaseSettings}, (404,), p),
            "put": op("put_settings", "Change release settings; a field left out keeps its value "
                      "(admin)", "releases", ANY_WRITE, {200: ReleaseSettings}, (404,), p,
                      ReleaseSettingsChange),
        },
        f"{base}/promotions": {"get": op(
            "list_promotions", "Promotion requests, newest first (viewer)", "releases",
            ANY_READ, {200: PromotionList}, (404,), p + (state, LIMIT, CURSOR))},
        f"{base}/promotions/{{promotion_id}}/approve": {"post": op(
            "approve_promotion", "Approve a pending request (admin, never its requester: 403); "
            "the label moves with the last approval needed, or 409 `stale` when it moved since "
            "the request was opened", "releases", ANY_WRITE, {200: PromotionAnswer},
            (404, 409), request)},
        f"{base}/promotions/{{promotion_id}}/reject": {"post": op(
            "reject_promotion", "Reject a pending request (admin; its requester withdraws it "
            "this way)", "releases", ANY_WRITE, {200: PromotionAnswer}, (404, 409), request)},
    }
