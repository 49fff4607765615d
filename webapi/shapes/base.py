"""What every declared shape shares: the two base classes and the field types used across
bodies and answers."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from webapi.characters import LINE_CONTROLS

MAX_INT = 2**31 - 1  # the database's INTEGER: a larger number overflows it (a 500 on SQLite)
SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*){0,7}$"
LABEL_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
PROJECT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
COMMIT_PATTERN = r"^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$"  # SHA-1 or SHA-256 repositories
# One line: no line break, tab or other control character (a name, a reason).
LINE_PATTERN = f"^[^{LINE_CONTROLS}]*$"
# What each pattern asks for, in the words of a 400 ("'slug' must be …").
PATTERN_WORDS = {
    SLUG_PATTERN: "a prompt slug: up to 8 segments of a-z, 0-9, '.', '_' and '-' joined by '/'",
    LABEL_PATTERN: "a label name: 1-63 characters of a-z, 0-9, '.', '_' and '-'",
    PROJECT_PATTERN: "1-63 characters of a-z, 0-9 and '-'",
    COMMIT_PATTERN: "a commit id: 40 or 64 hexadecimal digits",
    LINE_PATTERN: "one line, without a line break, tab or control character",
}


class Body(BaseModel):
    """A request body: strict types (no "1" for 1; a boolean is never an integer); a field
    the API does not know is ignored, as it always was."""

    model_config = ConfigDict(strict=True, frozen=True)
    EXAMPLE: ClassVar[dict[str, Any]] = {}


class Closed(Body):
    """A request object that refuses a field it does not know (400 naming it)."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """The shape of an answer, for the description only: the views build their JSON (the
    fetch by hand, for speed), and the fuzz test checks every answer against it."""


def absent(description: str | None = None) -> Any:
    """A field that may be left out, but is not null when present (the description leaves out
    its default)."""
    return Field(default=None, description=description)


# Integers that fit the database's INTEGER column.
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Positive = Annotated[int, Field(ge=1, le=MAX_INT)]
Role = Literal["viewer", "editor", "admin"]
# A prompt slug: the pattern is described, not checked here; services.versions.check_slug
# judges it with the CLI's own rules and answers 404 naming the problem (SPEC), per item.
Slug = Annotated[str, Field(json_schema_extra={"pattern": SLUG_PATTERN})]
LabelName = Annotated[str, Field(pattern=LABEL_PATTERN)]
OneLine = Annotated[str, Field(pattern=LINE_PATTERN)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]
# Any JSON object (its keys and values judged elsewhere, or not at all).
Object = dict[str, Any]
