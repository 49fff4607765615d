"""What an import deals in: a prompt found in a source, a source skipped, and each outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

FORMATS = ("text", "markdown", "csv", "prompty", "dotprompt")
# How a file's format is told from its name when --format does not say it.
SUFFIX_FORMATS = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".csv": "csv",
    ".prompty": "prompty", ".prompt": "dotprompt",
}


@dataclass
class Found:
    """One prompt read from a source: where from, the name its slug is made of, its fields."""

    origin: str  # "support/Greeting.md", "roles.csv row 12"
    name: str  # the name as the source gives it: a file's stem, a CSV cell
    fields: dict[str, Any]  # description, model, params, variables, template or messages, ...
    folder: tuple[str, ...] = ()  # sub-folders below a SOURCE directory, kept in the slug
    notes: list[str] = field(default_factory=list)  # what changed on the way, for the report


@dataclass(frozen=True)
class Skipped:
    """A source (or a row of one) that cannot become a prompt file, and why."""

    origin: str
    reason: str


class Outcome(StrEnum):
    """What became of one prompt found."""

    IMPORTED = "imported"
    WOULD_IMPORT = "would import"  # --dry-run
    ALREADY_THERE = "already there"  # the same bytes are in the file it would be written to
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Result:
    """One prompt's outcome: its slug and file, and why its slug differs from its name."""

    origin: str
    outcome: Outcome
    slug: str | None = None
    path: Path | None = None
    renamed: str | None = None  # e.g. "'Ёлка' transliterated", "'a' is taken by x.md"
    reason: str | None = None  # why it was skipped
    notes: tuple[str, ...] = ()


@dataclass
class ImportReport:
    """Every outcome, in the order the sources were read, and how non-ASCII names were made."""

    results: list[Result] = field(default_factory=list)
    transliterated: bool = False  # some name went through anyascii
    hashed: bool = False  # some name had nothing to keep and was named from its hash

    def with_outcome(self, *outcomes: Outcome) -> list[Result]:
        """The results whose outcome is one of ``outcomes``."""
        return [r for r in self.results if r.outcome in outcomes]

    @property
    def ok(self) -> bool:
        """True when nothing was skipped."""
        return not self.with_outcome(Outcome.SKIPPED)
