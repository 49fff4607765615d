"""Database models, one module per job; every name importable from here, as it always was.

Importing this package defines every table, so Alembic's metadata (migrations/env.py) is whole.
"""

from webapi.models.accounts import ApiKey, Invitation, LoginThrottle, Membership, Project, User
from webapi.models.base import ROLE_RANK, ROLES, iso, utcnow
from webapi.models.events import Event, Webhook, WebhookDelivery
from webapi.models.prompts import Label, Prompt, PromptVersion
from webapi.models.releases import LabelMove, ProjectSettings, Promotion, VersionProvenance

__all__ = [
    "ROLES",
    "ROLE_RANK",
    "ApiKey",
    "Event",
    "Invitation",
    "Label",
    "LabelMove",
    "LoginThrottle",
    "Membership",
    "Project",
    "ProjectSettings",
    "Prompt",
    "PromptVersion",
    "Promotion",
    "User",
    "VersionProvenance",
    "Webhook",
    "WebhookDelivery",
    "iso",
    "utcnow",
]
