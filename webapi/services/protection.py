"""Which labels of a project are protected: moved only by admins, under its release rules."""

from __future__ import annotations

DEFAULT_PROTECTED = frozenset({"production"})


def protected_labels(project_id: int) -> frozenset[str]:
    """The project's protected label names (its release settings; ``production`` by default)."""
    # The release settings (a table of their own) arrive with migration 0004; until then every
    # project has the default.
    return DEFAULT_PROTECTED
