"""The pieces every OpenAPI operation is built from: who may call, the error answers, the shared
parameters, and op() that puts one operation together."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from webapi.openapi.components import ref
from webapi.shapes.base import LABEL_PATTERN, PROJECT_PATTERN, SLUG_PATTERN
from webapi.shapes.bodies import Body

# Who may call: an API key, or a session cookie (which needs the CSRF header to change state).
Security = list[dict[str, list[str]]]
KEY: Security = [{"ApiKeyHeader": []}, {"Bearer": []}]
ANY_READ: Security = [*KEY, {"Session": []}]
ANY_WRITE: Security = [*KEY, {"Session": [], "CsrfToken": []}]
USER_WRITE: Security = [{"Session": [], "CsrfToken": []}]
STR = {"type": "string"}
ERRORS = {
    400: ("BadRequest", "Malformed request: bad JSON, a missing or mistyped field or argument."),
    401: ("Unauthorized", "Missing, invalid or revoked credentials (never a redirect)."),
    403: ("Forbidden", "Role too low, another project's key, a missing CSRF token, or a wrong "
          "current password."),
    404: ("NotFound", "Unknown project, prompt, version, label, member or key."),
    405: ("MethodNotAllowed", "The method is not allowed on this path (see the Allow header)."),
    409: ("Conflict", "Conflict: taken, stale parent_version or expected_version, last admin; "
          "or a refusal named by `error`: `protected_label`, `provenance`, `stale`, "
          "`contract_break` (`changes`), `included` (`dependents`, `via`), `broken_include` "
          "(`chain`)."),
    410: ("Archived", "The prompt is archived (`archived`): its latest version and labels are "
          "gone; a version by number still answers, or restore it."),
    413: ("TooLarge", "The request body (or batch) is too large."),
    422: ("Unprocessable", "Invalid prompt source (with problems) or variables (missing/unknown)."),
    429: ("RateLimited", "Too many failed logins; retry after Retry-After seconds."),
    503: ("Unavailable", "The database is unavailable; retry after Retry-After seconds."),
}


def param(name: str, where: str, schema: dict[str, Any], doc: str, **extra: Any) -> dict[str, Any]:
    """A parameter; path parameters are always required."""
    return {"name": name, "in": where, "required": where == "path", "schema": schema,
            "description": doc, **extra}


PROJECT = param("project", "path", {"type": "string", "pattern": PROJECT_PATTERN},
                "Project slug.", example="demo")
SLUG = param(
    "slug", "path", {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 200},
    "Prompt slug: up to 8 segments joined by `/`. Send the `/` as is (`support/greeting`) or "
    "percent-encoded (`support%2Fgreeting`); both reach the same prompt.",
    example="support/greeting",
)
LABEL = param("label", "path", {"type": "string", "pattern": LABEL_PATTERN},
              "Label name.", example="staging")
LIMIT = param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000},
              "Page size (default 100).")
CURSOR = param("cursor", "query", STR, "The `next` value of the previous page.")
VERSION_Q = param("version", "query", {"type": "integer", "minimum": 1}, "A version number.",
                  example=1)
LABEL_Q = param("label", "query", STR, "A label name (not together with `version`).")
REF_DOC = "A version number, a label, or `latest`."
LABEL_ROLE = " (editor; admin for a protected label, `production` by default)"
NEEDS_APPROVAL = (". When the project's settings ask approvals for a protected label, nothing "
                  "moves: 202 opens a promotion request")
ETAG = {"ETag": {"schema": STR, "description": 'The sha256, quoted: "<sha256>".'},
        "Cache-Control": {"schema": STR, "description": "Immutable by version, no-cache else."}}


def op(op_id: str, summary: str, tag: str, security: Security | None,
       ok: dict[int, Any], errors: tuple[int, ...], params: tuple[dict[str, Any], ...] = (),
       body: type[Body] | None = None) -> dict[str, Any]:
    """One operation: its success answers (a shape, or an inline schema), its error answers,
    who may call it and its body (a shape, with its example)."""
    responses: dict[str, Any] = {}
    for status, schema in ok.items():
        answer: dict[str, Any] = {"description": "Success."}
        if isinstance(schema, tuple):
            schema, answer["headers"] = schema
        if schema is not None:
            schema = ref(schema) if isinstance(schema, type) and issubclass(
                schema, BaseModel) else schema
            answer["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = answer
    codes = {400, 405, 503, *errors, *((401, 403) if security else ())}
    if body:
        codes.add(413)
    for status in sorted(codes):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": [tag],
                                 "parameters": list(params), "responses": responses,
                                 "security": security or []}
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body), "example": body.EXAMPLE}}}
    return operation
