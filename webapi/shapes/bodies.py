"""The request bodies of /api/v1, each with the example /openapi.json shows; the views validate
with these classes (webapi.api.inputs.body_as), and the description is written from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from promptsync.protocol import BATCH_LIMIT
from webapi.shapes.base import (
    LINE_PATTERN,
    PROJECT_PATTERN,
    Body,
    Closed,
    Count,
    LabelName,
    Object,
    OneLine,
    Password,
    Positive,
    Role,
    Slug,
    absent,
)
from webapi.shapes.git import Git

SOURCE = "variables:\n  topic: {required: true}\ntemplate: Thanks for asking about {{ topic }}.\n"
Email = Annotated[str, Field(json_schema_extra={"format": "email"})]
Branch = Annotated[str, Field(min_length=1, max_length=255, pattern=LINE_PATTERN)]


class SignUp(Body):
    """POST /auth/signup."""

    email: Email
    password: Password
    EXAMPLE = {"email": "ann@example.com", "password": "correct horse battery"}


class Credentials(Body):
    """POST /auth/login (a wrong password of any length is a 401, counted by the throttle)."""

    email: Email
    password: Annotated[str, Field(max_length=1024)]
    EXAMPLE = SignUp.EXAMPLE


class PasswordChange(Body):
    """POST /auth/password."""

    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Password
    EXAMPLE = {"current_password": "correct horse battery",
               "new_password": "battery staple horse"}


class NewProject(Body):
    """POST /projects."""

    slug: Annotated[str, Field(pattern=PROJECT_PATTERN)]
    name: Annotated[OneLine, Field(min_length=1, max_length=200)] | None = None
    EXAMPLE = {"slug": "support", "name": "Support"}


class MemberRole(Body):
    """PUT /projects/{p}/members/{email}."""

    role: Role
    EXAMPLE = {"role": "editor"}


class NewKey(Body):
    """POST /projects/{p}/keys."""

    name: Annotated[OneLine, Field(min_length=1, max_length=100)]
    role: Role
    EXAMPLE = {"name": "ci", "role": "viewer"}


class Push(Body):
    """POST …/prompts/{slug}: a new version of one prompt."""

    source: str
    message: Annotated[str, Field(max_length=10_000)] | None = None
    parent_version: Count | None = None
    git: Git | None = None
    # A rename: the slug the source was at (archived in the same transaction) and the version
    # of it last synced (409 when its latest moved on).
    renamed_from: Slug | None = None
    renamed_from_version: Positive | None = None
    EXAMPLE = {"source": SOURCE, "message": "Ask about the topic", "parent_version": 2,
               "git": {"commit": "5d41402abc4b2a76b9719d911017c592a1b2c3d4", "branch": "main",
                       "dirty": False, "path": "prompts/support/topic.yaml"}}


class BatchItem(Push):
    """One prompt of a batch, judged alone: a wrong item is refused in its result."""

    slug: Slug


class Batch(Body):
    """POST …/prompts: many prompts (413 past the batch limit)."""

    prompts: Annotated[list[BatchItem], Field(max_length=BATCH_LIMIT)]
    EXAMPLE = {"prompts": [{"slug": "support/topic", "source": SOURCE, "parent_version": 0}]}


class LabelMove(Body):
    """PUT …/-/labels/{label}."""

    version: Positive
    expected_version: Annotated[Count | None, Field(
        description="0: only if the label does not exist.")] = None
    reason: Annotated[OneLine | None, Field(
        max_length=300, description="One line, kept in the label's history.")] = None
    allow_breaking: Annotated[bool | None, Field(
        description="Move a protected label even to a version that breaks the prompt's "
                    "contract (else 409 contract_break with the changes).")] = None
    git: Annotated[Git | None, Field(description=(
        "The provenance of the prompt's file in the caller's checkout (as a push sends it), "
        "whose bytes hash to sha256: when the project asks protected labels for a clean "
        "commit, a clean one is recorded for the version if sha256 is the version's."))] = None
    sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$", description=(
        "The sha256 of the file git describes."))] = None
    EXAMPLE = {"version": 1, "expected_version": 1}


class ReleaseSettingsChange(Closed):
    """PUT /projects/{p}/settings: a field left out keeps its value; an unknown one is a 400."""

    protected_labels: Annotated[list[LabelName], Field(max_length=50)] = absent()
    approvals_required: Annotated[int, Field(ge=0, le=5)] = absent()
    protected_requires_clean_commit: bool = absent()
    protected_branches: Annotated[list[Branch], Field(max_length=50)] = absent()
    EXAMPLE = {"protected_labels": ["production"], "approvals_required": 1,
               "protected_requires_clean_commit": True, "protected_branches": ["main"]}


class Render(Body):
    """POST …/-/render: any JSON values, each judged against its variable's declared type."""

    variables: Object | None = None
    version: Positive | None = None
    label: str | None = None
    EXAMPLE = {"variables": {"name": "Ann", "topic": "billing"}, "label": "staging"}


URL_DOC = ("http(s); refused (400) when it resolves to a loopback, private or link-local "
           "address, unless the server sets WEBHOOK_ALLOW_PRIVATE.")
Url = Annotated[str, Field(min_length=1, max_length=2000, description=URL_DOC)]
Events = Annotated[list[Annotated[str, Field(max_length=63)]], Field(
    min_length=1, max_length=50,
    description='Event actions ("version.created", "label.moved", …) or ["*"].')]


class NewWebhook(Body):
    """POST /projects/{p}/webhooks."""

    url: Url
    events: Events
    secret: Annotated[str | None, Field(min_length=16, max_length=200, description=(
        "Printable ASCII; left out, one is made."))] = None
    enabled: bool | None = None
    EXAMPLE = {"url": "https://hooks.example.com/promptsync",
               "events": ["label.moved", "version.created"]}


class WebhookChange(Body):
    """PATCH /projects/{p}/webhooks/{id}: at least one field."""

    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = None
    EXAMPLE = {"enabled": True}


class Loose(Body):
    """A part of an export: keys a newer server writes are kept, never refused."""

    model_config = ConfigDict(extra="allow")


class ExportVersion(Loose):
    """One version in an export."""

    version: Positive
    source: str
    author: str
    created_at: str
    sha256: str | None = None
    message: str | None = None
    # Checked by the import (services.backup), which names the version it is in.
    git: Annotated[Any, Field(json_schema_extra={"type": ["object", "null"]})] = None
    renamed_from: str | None = None
    # Git provenance reported later (promptsync label from a clean checkout): [{git, actor,
    # created_at}]; absent from exports of servers before it, and when there is none.
    provenance: Annotated[Any, Field(json_schema_extra={"type": ["array", "null"]})] = None


class ExportPrompt(Loose):
    """One prompt in an export: its versions oldest first, its labels."""

    slug: str
    versions: list[ExportVersion]
    labels: dict[str, int]
    archived_at: str | None = None


class Export(Loose):
    """GET /projects/{p}/export's answer, and POST …/import's body."""

    format: Literal["promptsync-export"]
    format_version: Annotated[int, Field(json_schema_extra={"enum": [1]})]
    prompts: list[ExportPrompt]
    project: Object | None = None
    exported_at: str | None = None
    events: list[Object] | None = None
    label_history: list[Object] | None = None
    promotions: list[Object] | None = None
    settings: Object | None = None
    EXAMPLE = {"format": "promptsync-export", "format_version": 1, "prompts": [
        {"slug": "support/topic", "labels": {"production": 1}, "versions": [
            {"version": 1, "source": SOURCE, "author": "ann@example.com",
             "created_at": "2025-01-02T03:04:05.000Z"}]}], "events": []}


BODIES: tuple[type[Body], ...] = (
    SignUp, Credentials, PasswordChange, NewProject, MemberRole, NewKey, Push, Batch,
    LabelMove, ReleaseSettingsChange, Render, NewWebhook, WebhookChange, Export)
