"""The OpenAPI 3.1 description of /api/v1: its operations (their schemas written from
webapi/shapes/), served at /openapi.json and browsable at /docs."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Flask, Response, abort, jsonify, render_template, send_from_directory

from webapi.openapi.components import component_schemas, ref
from webapi.openapi.operations import (
    ANY_READ,
    ANY_WRITE,
    CURSOR,
    ERRORS,
    ETAG,
    KEY,
    LABEL,
    LABEL_Q,
    LABEL_ROLE,
    LIMIT,
    NEEDS_APPROVAL,
    PROJECT,
    REF_DOC,
    SLUG,
    STR,
    USER_WRITE,
    VERSION_Q,
    Security,
    op,
    param,
)
from webapi.openapi.releases import release_paths
from webapi.openapi.webhooks import webhook_paths
from webapi.shapes import answers as a
from webapi.shapes import bodies as b
from webapi.shapes import prompt_answers as pa

SWAGGER_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
DIST_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})


AFTER = param("after", "query", {"type": "integer", "minimum": 0},
              "Only events after this id (oldest first); for a stream, where to resume (the "
              "Last-Event-ID header does the same).")


def _stream_op(op_id: str, summary: str, security: Security,
               scope: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """A Server-Sent Events stream: `id`, `event` (the action), `data` (the event JSON)."""
    operation = op(op_id, summary + ": Server-Sent Events, each `id: <event id>`, `event: "
                   "<action>`, `data: <the event JSON of /events>`; a comment at least every "
                   "15 s. A caller who loses access while it is open (key revoked, member "
                   "removed, session ended) gets a last `event: error` without an id, `data` the "
                   "JSON error body with its `status`, and the stream ends", "events", security,
                   {200: None}, (404,), scope + (AFTER, param(
                       "Last-Event-ID", "header", {"type": "string", "pattern": "^[0-9]+$"},
                       "Resume after this event id (what an EventSource sends).")))
    # Each event of the stream, as SSE tooling reads it (schemathesis checks every one).
    event = {"type": "object", "required": ["event", "data"], "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"}, "event": STR,
        "data": {"type": "string", "contentMediaType": "application/json",
                 "description": "The event JSON of /events (id, action, slug, actor, details, "
                                "created_at); for `event: error` (no id) the error body "
                                "{error, detail, status}."}}}
    operation["responses"]["200"]["content"] = {"text/event-stream": {"schema": event}}
    return operation


def _prompt_paths(base: str, scope: tuple[dict[str, Any], ...], security: Security,
                  prefix: str, where: str) -> dict[str, Any]:
    item = f"{base}/prompts/{{slug}}"
    in_p = scope + (SLUG,)
    nf = (404,)
    return {
        f"{base}/prompts": {
            "get": op(f"{prefix}list_prompts", f"Every live prompt {where}", "prompts", security,
                      {200: pa.PromptList}, nf, scope + (LIMIT, CURSOR, param(
                          "include", "query", {"type": "string", "enum": [
                              "source", "archived", "archived,source", "source,archived"]},
                          "`source` adds each latest source; `archived` lists archived "
                          "prompts too (with their `archived_at`)."))),
            "post": op(f"{prefix}push_batch", f"Push many prompts {where} (editor)", "prompts",
                       security, {200: pa.BatchResults}, nf + (413,),
                       scope, b.Batch),
        },
        item: {
            "get": op(f"{prefix}get_prompt", f"One version {where}; 410 for the latest or a "
                      "label of an archived prompt", "prompts", security,
                      {200: (pa.Version, ETAG), 304: (None, ETAG)}, nf + (410,), in_p + (
                          VERSION_Q, LABEL_Q, param("If-None-Match", "header", STR, "An ETag."))),
            "post": op(f"{prefix}push_prompt", f"Push a new version {where} (editor); to an "
                       "archived prompt it restores it; with `renamed_from` a rename",
                       "prompts", security, {200: pa.Version, 201: pa.Version}, nf + (409, 422),
                       in_p, b.Push),
            "delete": op(f"{prefix}archive_prompt", f"Archive a prompt {where} (editor): its "
                         "labels removed, gone from the list, 410 by latest or label; 409 "
                         "`protected_label` while a protected label points at it, `included` "
                         "while other prompts include it",
                         "prompts", security, {204: None}, nf + (409,), in_p + (
                             param("expected_version", "query", {"type": "integer", "minimum": 0},
                                   "Refuse (409) unless the latest version is this one."),
                             param("force", "query", {"type": "boolean"},
                                   "Remove protected labels too (admin; 403 for others)."))),
        },
        f"{item}/-/restore": {"post": op(
            f"{prefix}restore_prompt", f"Restore an archived prompt {where} (editor; its labels "
            "are not restored); 409 when it is not archived", "prompts", security,
            {200: pa.Version}, nf + (409,), in_p)},
        f"{item}/-/versions": {"get": op(
            f"{prefix}list_versions", f"Version history, newest first {where}", "prompts",
            security, {200: pa.VersionList}, nf, in_p + (LIMIT, CURSOR))},
        f"{item}/-/diff": {"get": op(
            f"{prefix}diff_versions", f"Unified diff between two versions {where}", "prompts",
            security, {200: pa.Diff}, nf,
            in_p + (param("from", "query", STR, REF_DOC, example="staging"),
                    param("to", "query", STR, REF_DOC, example="2")))},
        f"{item}/-/dependents": {"get": op(
            f"{prefix}list_dependents", f"The prompts whose latest or labelled version "
            f"includes this one (`{{{{> slug }}}}`) {where} (viewer), each with the refs that "
            "do (`via`)", "prompts", security,
            {200: pa.Dependents}, nf, in_p)},
        f"{item}/-/render": {"post": op(
            f"{prefix}render_prompt", f"Fill the template {where}", "prompts", security,
            {200: pa.Rendered}, nf + (410, 422), in_p, b.Render)},
        f"{item}/-/labels/{{label}}": {
            "put": op(f"{prefix}move_label", f"Point a label at a version {where}{LABEL_ROLE}"
                      f"{NEEDS_APPROVAL}", "prompts", security,
                      {200: pa.LabelMoved, 202: pa.PromotionAnswer}, nf + (409,), in_p + (LABEL,),
                      b.LabelMove),
            "delete": op(f"{prefix}delete_label", f"Remove a label {where}{LABEL_ROLE}"
                         f"{NEEDS_APPROVAL}", "prompts", security,
                         {204: None, 202: pa.PromotionAnswer}, nf + (409,), in_p + (LABEL, param(
                             "expected_version", "query", {"type": "integer", "minimum": 0},
                             "Refuse (409) unless the label points here."))),
        },
        f"{item}/-/labels/{{label}}/history": {"get": op(
            f"{prefix}label_history", f"A label's moves, newest first {where} (viewer)",
            "releases", security, {200: pa.LabelHistory}, nf, in_p + (LABEL, LIMIT, CURSOR))},
    }


def _paths() -> dict[str, Any]:
    p = (PROJECT,)
    email = param("email", "path", {"type": "string", "format": "email", "maxLength": 254},
                  "The member's (or invitee's) email, compared case-insensitively.")
    invitation = (param("invitation_id", "path", {"type": "integer", "minimum": 0},
                        "The invitation's id (from GET /me)."),)
    key_id = param("key_id", "path", {"type": "integer", "minimum": 0}, "The key's id.")
    return {
        "/auth/signup": {"post": op("signup", "Create an account", "auth", None,
                                    {201: a.SignedUp}, (403, 409), (), b.SignUp)},
        "/auth/login": {"post": op("login", "Log in: session cookie and CSRF token", "auth", None,
                                   {200: a.LoggedIn}, (401, 429), (),
                                   b.Credentials)},
        "/auth/logout": {"post": op("logout", "End every copy of the session", "auth",
                                    USER_WRITE, {204: None}, ())},
        "/auth/password": {"post": op(
            "change_password", "Change the password; every other session ends", "auth",
            USER_WRITE, {204: None}, (429,), (), b.PasswordChange)},
        "/me": {"get": op("me", "The caller, its projects and its pending invitations", "auth",
                          ANY_READ, {200: a.Me}, ())},
        "/invitations/{invitation_id}/accept": {"post": op(
            "accept_invitation", "Join the project you were invited to, with the invited role "
            "(the invitee's session only: 403 for API keys)", "members", USER_WRITE,
            {200: a.Joined}, (404,), invitation)},
        "/invitations/{invitation_id}/decline": {"post": op(
            "decline_invitation", "Turn an invitation down (the invitee's session only)",
            "members", USER_WRITE, {204: None}, (404,), invitation)},
        "/projects": {
            "get": op("list_projects", "Projects the caller belongs to", "projects", ANY_READ,
                      {200: a.ProjectList}, ()),
            "post": op("create_project", "Create a project (users only)", "projects", USER_WRITE,
                       {201: a.Project}, (409,), (), b.NewProject),
        },
        "/projects/{project}/members": {"get": op(
            "list_members", "Members and roles, and pending invitations (admin)", "members",
            ANY_READ, {200: a.MemberList}, (404,), p)},
        "/projects/{project}/members/{email}": {
            "put": op("set_member", "Change a member's role (200), or invite an email that is not "
                      "a member (202, the same answer whether or not it has an account; it joins "
                      "only by accepting) (admin)", "members", ANY_WRITE,
                      {200: a.Member, 202: a.Invited}, (404, 409), p + (email,), b.MemberRole),
            "delete": op("remove_member", "Remove a member and revoke their keys, or withdraw an "
                         "invitation (admin); or leave, as the member's own session. Never the "
                         "last admin (409)", "members", ANY_WRITE, {204: None}, (404, 409),
                         p + (email,)),
        },
        "/projects/{project}/keys": {
            "get": op("list_keys", "Active keys, without secrets (admin: all; member session: "
                      "their own)", "keys", ANY_READ, {200: a.KeyList}, (404,), p),
            "post": op("create_key", "Create a key, shown once (admin: any role; member session: "
                       "their own, up to their role)", "keys",
                       ANY_WRITE, {201: a.KeyCreated}, (404,), p, b.NewKey),
        },
        "/projects/{project}/keys/{key_id}": {"delete": op(
            "revoke_key", "Revoke a key at once (admin: any; member session: their own)", "keys",
            ANY_WRITE, {204: None}, (404,), p + (key_id,))},
        "/projects/{project}/export": {"get": op(
            "export_project", "Every prompt, version, label and event as JSON (admin)",
            "backup", ANY_READ, {200: b.Export}, (404,), p)},
        "/projects/{project}/import": {"post": op(
            "import_project", "Restore an export into an empty project (admin)", "backup",
            ANY_WRITE, {201: a.Imported}, (404, 409, 422), p, b.Export)},
        "/projects/{project}/events": {"get": op(
            "list_events", "Audit log, newest first (viewer); with `after` and `wait` the long "
            "poll: the events after `after`, oldest first, as soon as one exists", "events",
            ANY_READ, {200: a.EventList}, (404,), p + (LIMIT, CURSOR, AFTER, param(
                "wait", "query", {"type": "integer", "minimum": 0, "maximum": 30},
                "Seconds to wait for an event after `after` (then an empty list).")))},
        "/projects/{project}/events/stream": {"get": _stream_op(
            "stream_events", "The project's events as they commit (viewer)", ANY_READ, p)},
        "/events/stream": {"get": _stream_op(
            "key_stream_events", "The API key's project's events as they commit", KEY, ())},
        **release_paths(p),
        **webhook_paths(p),
        **_prompt_paths("/projects/{project}", p, ANY_WRITE, "", "in a project"),
        **_prompt_paths("", (), KEY, "key_", "in the API key's project"),
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The whole description, built once per process (treat it as read-only)."""
    error = {"application/json": {"schema": ref(a.Error)}}
    retry = {"Retry-After": {"schema": STR, "description": "Seconds to wait."}}
    responses = {
        name: {"description": text, "content": error, **({"headers": retry} if s in {429, 503}
                                                           else {})}
        for s, (name, text) in ERRORS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "promptsync API", "version": "1",
                 "description": "Prompts as YAML files, pushed as immutable numbered versions."},
        "servers": [{"url": "/api/v1"}],
        "paths": _paths(),
        "components": {
            "schemas": component_schemas(),
            "responses": responses,
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": "A project API key: psk_<8 hex>_<secret>."},
                "Bearer": {"type": "http", "scheme": "bearer", "description": "An API key."},
                "Session": {"type": "apiKey", "in": "cookie", "name": "promptsync_session"},
                "CsrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                              "description": "From the login answer; for cookie writes."},
            },
        },
    }


# Swagger UI sets inline styles and data: images; everything still loads from this server.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)


def register_docs(app: Flask) -> None:
    """Serve /openapi.json and the offline Swagger UI at /docs."""

    @app.get("/openapi.json")
    def openapi_json() -> Response:
        response = jsonify(openapi_document())
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/docs", strict_slashes=False)  # "/docs/" too: its assets' URLs are absolute
    def docs() -> Response:
        response = Response(render_template("docs/index.html"), mimetype="text/html")
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response

    @app.get("/docs/assets/<name>")
    def docs_asset(name: str) -> Response:
        if name not in DIST_FILES:
            abort(404)
        return send_from_directory(SWAGGER_DIST, name, max_age=3600)
