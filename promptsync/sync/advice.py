"""What to do when a file and the server disagree, worded once for push, pull, status and watch."""

from __future__ import annotations

from enum import StrEnum


class Disagreement(StrEnum):
    """How a file and the server's version of its prompt came apart."""

    BOTH_CHANGED = "both changed"  # the file changed here, the server moved on
    DELETED_HERE = "deleted here"  # the file was deleted here, the server moved on
    ARCHIVED_THERE = "archived there"  # the file changed here, the server archived the prompt


_ADVICE = {
    Disagreement.BOTH_CHANGED:
        "promptsync pull --force takes the server's, promptsync push --force keeps yours",
    Disagreement.DELETED_HERE:
        "promptsync pull --force brings the file back, promptsync push --force archives the "
        "prompt anyway",
    Disagreement.ARCHIVED_THERE:
        "promptsync push --force restores the prompt with your file, promptsync pull --force "
        "removes the file",
}


def advice(kind: Disagreement) -> str:
    """The two ways out, each with what it does: one side wins, the other is overwritten."""
    return _ADVICE[kind]
