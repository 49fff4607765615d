"""``PromptVersion``: one immutable prompt version as the SDK hands it out (with its Prompt)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptsync.format.prompt import Prompt, parse_prompt

__all__ = ["PromptVersion"]


@dataclass(frozen=True)
class PromptVersion:
    """One immutable prompt version as the SDK hands it out."""

    slug: str
    version: int
    sha256: str
    labels: tuple[str, ...]
    source: str
    prompt: Prompt = field(repr=False, compare=False)

    @classmethod
    def from_source(
        cls, slug: str, version: int, sha256: str, labels: Any, source: str
    ) -> PromptVersion:
        """Build from a stored source; parsing it gives the exact render rules of the files."""
        names = tuple(labels) if isinstance(labels, list | tuple) else ()
        prompt = parse_prompt(source, f"{slug} v{version}")
        return cls(slug, version, sha256, names, source, prompt)

    def render(
        self, variables: Mapping[str, object] | None = None, /, **kw: object
    ) -> str | list[dict[str, str]]:
        """Fill the placeholders strictly (one RenderError naming every missing, unknown or
        mistyped variable)."""
        return self.prompt.render(variables, **kw)

    def validate_output(self, value: object) -> object:
        """A model's answer checked against the prompt's output_schema (text is read as JSON):
        the value when it fits, OutputInvalid naming every problem otherwise."""
        return self.prompt.validate_output(value)
