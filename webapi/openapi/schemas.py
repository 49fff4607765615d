"""The JSON schemas of /api/v1's bodies, answers and errors, with an example of each request."""

from __future__ import annotations

from typing import Any

from webapi.services.promotions import STATES as PROMOTION_STATES

SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*){0,7}$"
LABEL_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
ROLE = {"type": "string", "enum": ["viewer", "editor", "admin"]}
STR, INT, OBJ = {"type": "string"}, {"type": "integer"}, {"type": "object"}
NULL_STR, NULL_INT = {"type": ["string", "null"]}, {"type": ["integer", "null"]}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object schema with required and optional properties (extra properties allowed)."""
    schema: dict[str, Any] = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An array schema."""
    return {"type": "array", "items": items, **extra}


def page(name: str, item: str, cursor: bool = True) -> dict[str, Any]:
    """A collection: one named array, plus the `next` cursor where it can grow."""
    return obj({name: array(ref(item)), **({"next": NULL_STR} if cursor else {})})


def nullable(name: str) -> dict[str, Any]:
    """A reference to a component schema, or null."""
    return {"oneOf": [ref(name), {"type": "null"}]}


SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {"error": STR, "detail": STR},
        {"problems": array(ref("Problem")), "missing": array(STR), "unknown": array(STR),
         "latest_version": INT, "current_version": NULL_INT, "field": STR, "state": STR,
         "request": ref("Promotion"),
         # protected_label: the protected labels that block an archive or a rename.
         "labels": array(STR)},
    ),
    "Problem": obj({"message": STR, "line": NULL_INT, "column": NULL_INT}),
    "User": obj({"id": INT, "email": STR, "created_at": STR}),
    "Project": obj({"slug": STR, "name": STR, "role": ROLE, "created_at": STR}),
    "Member": obj({"email": STR, "role": ROLE, "added_at": STR}),
    # Pending for 14 days; `project_name` only in the invitee's own list (GET /me).
    "Invitation": obj({"id": INT, "project": STR, "email": STR, "role": ROLE, "invited_by": STR,
                       "created_at": STR, "expires_at": STR}, {"project_name": STR}),
    "Invited": obj({"invitation": ref("Invitation")}),
    "Joined": obj({"project": ref("Project")}),
    "Key": obj({"id": INT, "name": STR, "role": ROLE, "prefix": STR, "created_at": STR,
                "last_used_at": NULL_STR, "created_by": STR}),
    "KeyCreated": obj({"id": INT, "name": STR, "role": ROLE, "prefix": STR, "key": STR,
                       "created_at": STR}),
    "KeyInfo": obj({"id": INT, "name": STR, "prefix": STR, "role": ROLE, "project": STR}),
    "Me": obj({"user": nullable("User"), "key": nullable("KeyInfo"),
               "projects": array(ref("Project")),
               # The user's pending invitations; always empty for an API key.
               "invitations": array(ref("Invitation"))}),
    "Event": obj({"id": INT, "action": STR, "slug": NULL_STR, "actor": STR, "details": OBJ,
                  "created_at": STR}),
    "Message": obj({"role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]},
                    "content": STR}),
    "Version": obj({
        "project": STR, "slug": STR, "version": INT, "sha256": STR,
        "type": {"type": "string", "enum": ["text", "chat"]}, "template": NULL_STR,
        "messages": {"oneOf": [array(ref("Message")), {"type": "null"}]},
        "model": NULL_STR, "params": OBJ, "variables": OBJ, "description": NULL_STR,
        "tags": array(STR), "metadata": OBJ, "labels": array(STR), "message": NULL_STR,
        "author": STR, "created_at": STR, "git": {"type": ["object", "null"]}, "source": STR,
        # "<old slug>@v<N>" on the version a rename created.
        "renamed_from": NULL_STR,
    }, {
        # The JSON Schema of the answer the prompt asks for (Draft 2020-12), or null.
        "output_schema": {"type": ["object", "boolean", "null"]},
        # On a fetch: the partials it includes, resolved now ({{> slug@ref }}, SPEC §13).
        "includes": array(obj({"slug": STR, "ref": STR, "version": NULL_INT})),
    }),
    "PromptSummary": obj(
        {"slug": STR, "version": INT, "sha256": STR,
         "labels": {"type": "object", "additionalProperties": INT}, "updated_at": STR,
         "archived_at": NULL_STR},
        {"author": STR, "source": STR},
    ),
    "PushResult": obj(
        {"slug": STR, "status": {"type": "string",
                                 "enum": ["created", "unchanged", "conflict", "invalid", "error"]}},
        {"version": INT, "sha256": STR, "latest_version": INT, "problems": array(ref("Problem")),
         "error": STR, "detail": STR, "renamed_from": NULL_STR, "labels": array(STR)},
    ),
    "Diff": obj({"from": INT, "to": INT, "diff": STR}),
    "Dependents": obj({"dependents": array(obj({"slug": STR}))}),
    "LabelMoved": obj({"slug": STR, "label": STR, "version": INT, "previous": NULL_INT}),
    "Rendered": obj({"version": INT}, {"text": STR, "messages": array(ref("Message"))}),
    "Imported": obj({"imported": obj({"prompts": INT, "versions": INT, "labels": INT,
                                      "events": INT})}),
    "Move": obj({"id": INT, "from_version": NULL_INT, "to_version": NULL_INT, "actor": STR,
                 "at": STR, "reason": NULL_STR}),
    "LabelHistory": page("moves", "Move"),
    # version and sha256 are null on a request to remove the label.
    "Promotion": obj(
        {"id": INT, "slug": STR, "label": STR, "version": NULL_INT, "sha256": NULL_STR,
         "requested_by": STR, "state": {"type": "string", "enum": list(PROMOTION_STATES)}},
        {"from_version": NULL_INT, "approvals_required": INT,
         "approvals": array(obj({"by": STR, "at": STR})), "decided_by": NULL_STR,
         "decided_at": NULL_STR, "created_at": STR}),
    "PromotionAnswer": obj({"request": ref("Promotion")}),
    "PromotionList": page("promotions", "Promotion"),
    "ReleaseSettings": obj({"protected_labels": array(STR), "approvals_required": INT,
                            "protected_requires_clean_commit": {"type": "boolean"},
                            "protected_branches": array(STR)}),
    "PromptList": page("prompts", "PromptSummary"),
    "VersionList": page("versions", "Version"),
    "EventList": page("events", "Event"),
    "KeyList": page("keys", "Key", cursor=False),
    "MemberList": obj({"members": array(ref("Member")),
                       "invitations": array(ref("Invitation"))}),
    "ProjectList": page("projects", "Project", cursor=False),
}
# Where a version's source came from; each field may be left out or null.
GIT = {"type": ["object", "null"], "additionalProperties": False, "properties": {
    "commit": {"type": ["string", "null"], "pattern": "^[0-9a-fA-F]{40}$"},
    "branch": {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
               "description": "Printable characters only."},
    "dirty": {"type": ["boolean", "null"]},
    "path": {"type": ["string", "null"], "minLength": 1, "maxLength": 4096,
             "description": "Relative to the repository: not absolute, no '..'."}}}
PUSH_FIELDS = {"message": STR, "parent_version": {"type": "integer", "minimum": 0},
               "git": GIT,
               # A rename: the slug the source was at (archived in the same transaction) and the
               # version of it last synced (409 when its latest moved on).
               "renamed_from": {"type": "string", "pattern": SLUG_PATTERN},
               "renamed_from_version": {"type": "integer", "minimum": 1}}
BODIES: dict[str, Any] = {
    "Credentials": obj({"email": {"type": "string", "format": "email"},
                        "password": {"type": "string", "minLength": 8, "maxLength": 1024}}),
    "NewProject": obj({"slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}},
                      {"name": {"type": "string", "minLength": 1, "maxLength": 200}}),
    "PasswordChange": obj({"current_password": STR,
                           "new_password": {"type": "string", "minLength": 8, "maxLength": 1024}}),
    "MemberRole": obj({"role": ROLE}),
    "NewKey": obj({"name": {"type": "string", "minLength": 1, "maxLength": 100}, "role": ROLE}),
    "Push": obj({"source": STR}, PUSH_FIELDS),
    "Batch": obj({"prompts": array(obj({"slug": {"type": "string", "pattern": SLUG_PATTERN},
                                        "source": STR}, PUSH_FIELDS), maxItems=500)}),
    "LabelMove": obj({"version": {"type": "integer", "minimum": 1}},
                     {"expected_version": {"type": "integer", "minimum": 0,
                                           "description": "0: only if the label does not exist."},
                      "reason": {"type": "string", "maxLength": 300,
                                 "description": "One line, kept in the label's history."},
                      "allow_breaking": {
                          "type": "boolean", "description": "Move a protected label even to a "
                          "version that breaks the prompt's contract (else 409 contract_break "
                          "with the changes)."}}),
    "ReleaseSettingsChange": {**obj({}, {
        "protected_labels": array({"type": "string", "pattern": LABEL_PATTERN}, maxItems=50),
        "approvals_required": {"type": "integer", "minimum": 0, "maximum": 5},
        "protected_requires_clean_commit": {"type": "boolean"},
        "protected_branches": array({"type": "string", "minLength": 1, "maxLength": 255},
                                    maxItems=50)}), "additionalProperties": False},
    "Export": obj({"format": {"type": "string", "enum": ["promptsync-export"]},
                   "format_version": {"type": "integer", "enum": [1]},
                   "prompts": array(obj({"slug": STR, "versions": array(obj(
                       {"version": INT, "source": STR, "author": STR, "created_at": STR},
                       {"sha256": STR, "message": NULL_STR, "git": GIT,
                        "renamed_from": NULL_STR})),
                       "labels": {"type": "object", "additionalProperties": INT}},
                       {"archived_at": NULL_STR}))},
                  {"project": OBJ, "exported_at": STR, "events": array(OBJ)}),
    "Render": obj({}, {"variables": {"type": "object"},  # any JSON values: the types judge
                       "version": {"type": "integer", "minimum": 1}, "label": STR}),
}

SOURCE = "variables:\n  topic: {required: true}\ntemplate: Thanks for asking about {{ topic }}.\n"
EXAMPLES: dict[str, Any] = {
    "Credentials": {"email": "ann@example.com", "password": "correct horse battery"},
    "NewProject": {"slug": "support", "name": "Support"},
    "PasswordChange": {"current_password": "correct horse battery",
                       "new_password": "battery staple horse"},
    "MemberRole": {"role": "editor"},
    "NewKey": {"name": "ci", "role": "viewer"},
    "Push": {"source": SOURCE, "message": "Ask about the topic", "parent_version": 2,
             "git": {"commit": "5d41402abc4b2a76b9719d911017c592a1b2c3d4", "branch": "main",
                     "dirty": False, "path": "prompts/support/topic.yaml"}},
    "Batch": {"prompts": [{"slug": "support/topic", "source": SOURCE, "parent_version": 0}]},
    "LabelMove": {"version": 1, "expected_version": 1},
    "ReleaseSettingsChange": {"protected_labels": ["production"], "approvals_required": 1,
                              "protected_requires_clean_commit": True,
                              "protected_branches": ["main"]},
    "Render": {"variables": {"name": "Ann", "topic": "billing"}, "label": "staging"},
    "Export": {"format": "promptsync-export", "format_version": 1, "prompts": [
        {"slug": "support/topic", "labels": {"production": 1}, "versions": [
            {"version": 1, "source": SOURCE, "author": "ann@example.com",
             "created_at": "2025-01-02T03:04:05.000Z"}]}], "events": []},
}
