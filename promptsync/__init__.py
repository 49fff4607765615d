"""promptsync: a Git-style, file-first prompt repository and its Python client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptsync.client.sdk import Client

__all__ = ["Client"]


def __getattr__(name: str) -> Any:
    """Import the SDK on first use: httpx costs ~0.1 s, which `promptsync lint` need not pay."""
    if name == "Client":
        from promptsync.client.sdk import Client

        return Client
    raise AttributeError(f"module 'promptsync' has no attribute {name!r}")
