"""Who is calling and on which project: the plain values authentication hands to services."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user by session, or an API key with its effective role."""

    user_id: int
    email: str
    key_id: int | None = None
    key_name: str | None = None
    key_prefix: str | None = None
    key_project_id: int | None = None
    key_project_slug: str | None = None
    key_role: str | None = None

    @property
    def is_key(self) -> bool:
        return self.key_id is not None

    @property
    def actor(self) -> str:
        """How the caller appears in the events log (never the key's secret)."""
        if self.is_key:
            return f"{self.email} (key {self.key_prefix})"
        return self.email


@dataclass(frozen=True)
class ProjectRef:
    """The project a request acts on: its id and slug, without loading the row twice."""

    id: int
    slug: str


@dataclass(frozen=True)
class ProjectAccess:
    """A caller allowed into a project: the project, their role there, and who they are."""

    project: ProjectRef
    role: str
    principal: Principal
