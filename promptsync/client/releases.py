"""Rolling a label back: its last move undone, as a compare-and-swap."""

from __future__ import annotations

from typing import Any

from promptsync.client.api import ApiClient
from promptsync.errors import ApiError, PromptSyncError


def rollback_label(api: ApiClient, project: str | None, slug: str, label: str) -> dict[str, Any]:
    """Point ``label`` back where it was before its last move, only if it is still where that
    move put it (409 otherwise); the answer of the move (or ``{"request"}`` when it needs
    approval)."""
    moves = api.label_history(project, slug, label, limit=1)
    if not moves:
        raise PromptSyncError(f"{slug}: '{label}' has no recorded moves to roll back")
    last = moves[0]
    before, after = last.get("from_version"), last.get("to_version")
    if not isinstance(before, int):
        raise PromptSyncError(
            f"{slug}: '{label}' pointed at nothing before its last move; remove it with "
            f"promptsync label {slug} {label} --delete"
        )
    # The compare-and-swap: expected_version is where the last move left the label (0: the
    # move removed it), so a move made since then is never silently undone.
    expected = after if isinstance(after, int) else 0
    try:
        return api.set_label(project, slug, label, before, expected_version=expected,
                             reason=f"rollback of move #{last.get('id')}")
    except ApiError as exc:
        if exc.status != 409 or exc.code != "conflict":
            raise
        now = exc.body.get("current_version")
        where = f"v{now}" if isinstance(now, int) else "nothing"
        raise ApiError(exc.status, exc.code, (
            f"{slug}: '{label}' moved to {where} after the move this rollback read; nothing was "
            f"rolled back (see promptsync labels {slug} {label})"), exc.body) from exc
