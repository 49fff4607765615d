"""The answers about prompts and releases: versions, the manifest, push results, labels,
promotions and release settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from webapi.services.promotions import STATES
from webapi.shapes.base import Answer, Object, absent

PromotionState = Literal[STATES]  # type: ignore[valid-type]  # the tuple, spelt once


class Message(Answer):
    """One message of a chat prompt."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str


class Include(Answer):
    """A partial a fetched version includes, resolved now ({{> slug@ref }}, SPEC §13)."""

    slug: str
    ref: str
    version: int | None


class Version(Answer):
    """One version of a prompt, as a fetch, a push or the history answers it."""

    project: str
    slug: str
    version: int
    sha256: str
    type: Literal["text", "chat"]
    template: str | None
    messages: list[Message] | None
    model: str | None
    params: Object
    variables: Object
    description: str | None
    tags: list[str]
    metadata: Object
    labels: list[str]
    message: str | None
    author: str
    created_at: str
    git: Object | None
    source: str
    renamed_from: str | None = Field(description='"<old slug>@v<N>" on the version a rename '
                                                 "created.")
    output_schema: Object | bool | None = absent(
        "The JSON Schema of the answer the prompt asks for (Draft 2020-12), or null.")
    includes: list[Include] = absent("On a fetch: the partials it "
                                    "includes, resolved now.")


class PromptSummary(Answer):
    """One prompt of the manifest."""

    slug: str
    version: int
    sha256: str
    labels: dict[str, int]
    updated_at: str
    archived_at: str | None
    author: str = absent()
    source: str = absent()


class PromptList(Answer):
    """A page of the manifest."""

    prompts: list[PromptSummary]
    next: str | None


class VersionList(Answer):
    """A page of a prompt's history, newest first."""

    versions: list[Version]
    next: str | None


class Problem(Answer):
    """One problem of an invalid prompt file, where it is."""

    message: str
    line: int | None
    column: int | None


class PushResult(Answer):
    """What became of one prompt of a batch."""

    slug: str
    status: Literal["created", "unchanged", "conflict", "invalid", "error"]
    version: int = absent()
    sha256: str = absent()
    latest_version: int = absent()
    problems: list[Problem] = absent()
    error: str = absent()
    detail: str = absent()
    field: str = absent()
    renamed_from: str | None = None
    labels: list[str] = absent()


class BatchResults(Answer):
    """A batch's results, in the order of its prompts."""

    results: list[PushResult]


class Diff(Answer):
    """A unified diff between two versions."""

    from_: int = Field(alias="from")
    to: int
    diff: str


class DependentUse(Answer):
    """One ref of a dependent whose version includes the prompt (a fetch's ``includes`` ref)."""

    ref: str = Field(description="`latest` or a label name.")
    version: int


class Dependent(Answer):
    """A prompt that includes another, and by which of its refs."""

    slug: str
    via: list[DependentUse]


class Dependents(Answer):
    """The prompts whose latest or labelled version includes this one."""

    dependents: list[Dependent]


class LabelMoved(Answer):
    """A label moved."""

    slug: str
    label: str
    version: int
    previous: int | None


class Rendered(Answer):
    """A filled template: text, or messages."""

    version: int
    text: str = absent()
    messages: list[Message] = absent()


class Move(Answer):
    """One move of a label."""

    id: int
    from_version: int | None
    to_version: int | None
    actor: str
    at: str
    reason: str | None


class LabelHistory(Answer):
    """A page of a label's moves, newest first."""

    moves: list[Move]
    next: str | None


class Approval(Answer):
    """Who approved a promotion, when."""

    by: str
    at: str


class Promotion(Answer):
    """A request to move (or remove) a protected label; version and sha256 are null on a
    request to remove it."""

    id: int
    slug: str
    label: str
    version: int | None
    sha256: str | None
    requested_by: str
    state: PromotionState
    from_version: int | None = None
    approvals_required: int = absent()
    approvals: list[Approval] = absent()
    decided_by: str | None = None
    decided_at: str | None = None
    created_at: str = absent()


class PromotionAnswer(Answer):
    """The request a move opened, or an approval or rejection changed."""

    request: Promotion


class PromotionList(Answer):
    """A page of promotion requests, newest first."""

    promotions: list[Promotion]
    next: str | None


class ReleaseSettings(Answer):
    """A project's release settings."""

    protected_labels: list[str]
    approvals_required: int
    protected_requires_clean_commit: bool
    protected_branches: list[str]
