"""The answers about accounts, projects, members, keys, events, backups and webhooks, and the
one error shape (§5)."""

from __future__ import annotations

from typing import Literal

from webapi.shapes.base import Answer, Object, Role, absent
from webapi.shapes.prompt_answers import DependentUse, Problem, Promotion


class Error(Answer):
    """Every error: a code, a sentence, and the fields some errors add."""

    error: str
    detail: str
    problems: list[Problem] = absent()
    missing: list[str] = absent()
    unknown: list[str] = absent()
    latest_version: int = absent()
    current_version: int | None = None
    field: str = absent("The request field that is wrong.")
    state: str = absent()
    request: Promotion = absent()
    labels: list[str] = absent(
        "protected_label: the protected labels that block an archive or a rename.")
    invalid: dict[str, str] = absent("invalid_variables: each variable and what is wrong with it.")
    changes: list[Object] = absent("contract_break: the breaking changes, each with its `detail`.")
    dependents: list[str] = absent("included: the prompts whose fetch the change would break.")
    via: dict[str, list[DependentUse]] = absent(
        "included: for each dependent, the refs (`latest` or a label) that include the prompt.")
    chain: list[str] = absent("broken_include: the include chain that would not resolve.")


class User(Answer):
    """An account."""

    id: int
    email: str
    created_at: str


class SignedUp(Answer):
    """A new account."""

    user: User


class LoggedIn(Answer):
    """A session: the cookie is set; the CSRF token goes in X-CSRF-Token on writes."""

    user: User
    csrf_token: str


class Project(Answer):
    """A project, with the caller's role in it."""

    slug: str
    name: str
    role: Role
    created_at: str


class ProjectList(Answer):
    """The projects the caller belongs to."""

    projects: list[Project]


class Member(Answer):
    """A member of a project."""

    email: str
    role: Role
    added_at: str


class Invitation(Answer):
    """A pending invitation (14 days); `project_name` only in the invitee's list (GET /me)."""

    id: int
    project: str
    email: str
    role: Role
    invited_by: str
    created_at: str
    expires_at: str
    project_name: str = absent()


class Invited(Answer):
    """An invitation sent (or renewed)."""

    invitation: Invitation


class Joined(Answer):
    """The project an accepted invitation joined."""

    project: Project


class MemberList(Answer):
    """Members and pending invitations."""

    members: list[Member]
    invitations: list[Invitation]


class Key(Answer):
    """An API key, without its secret."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: str
    last_used_at: str | None
    created_by: str


class KeyCreated(Answer):
    """A new key: `key` is shown in this answer only."""

    id: int
    name: str
    role: Role
    prefix: str
    key: str
    created_at: str


class KeyList(Answer):
    """The keys the caller may see."""

    keys: list[Key]


class KeyInfo(Answer):
    """The API key a request came with."""

    id: int
    name: str
    prefix: str
    role: Role
    project: str


class Me(Answer):
    """The caller: a user (session) or a key, its projects, its pending invitations (always
    none for a key)."""

    user: User | None
    key: KeyInfo | None
    projects: list[Project]
    invitations: list[Invitation]


class Event(Answer):
    """One entry of a project's audit log (and of its event stream)."""

    id: int
    action: str
    slug: str | None
    actor: str
    details: Object
    created_at: str


class EventList(Answer):
    """A page of events."""

    events: list[Event]
    next: str | None


class ImportCounts(Answer):
    """What an import restored."""

    prompts: int
    versions: int
    labels: int
    events: int


class Imported(Answer):
    """An import's counts."""

    imported: ImportCounts


class Webhook(Answer):
    """A webhook (its secret is never shown again)."""

    id: int
    url: str
    events: list[str]
    enabled: bool
    created_by: str
    created_at: str
    failing_since: str | None
    disabled_reason: str | None


class WebhookCreated(Webhook):
    """A new webhook, with its signing secret (in this answer only)."""

    secret: str


class WebhookList(Answer):
    """A project's webhooks."""

    webhooks: list[Webhook]


class Delivery(Answer):
    """One delivery of an event to a webhook."""

    id: str
    event_id: int
    action: str
    slug: str | None
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    response_code: int | None
    last_error: str | None
    created_at: str
    last_attempt_at: str | None
    next_attempt_at: str | None
    delivered_at: str | None
    redelivery_of: str | None


class DeliveryList(Answer):
    """A page of a webhook's deliveries, newest first."""

    deliveries: list[Delivery]
    next: str | None


class Redelivered(Answer):
    """The new delivery a redelivery made."""

    delivery: Delivery
