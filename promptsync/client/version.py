"""``PromptVersion``: one immutable prompt version as the SDK hands it out (with its Prompt)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from promptsync.errors import PromptSyncError
from promptsync.format.partials import Found, PartialError, expand, has_includes, prompt_includes
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
    # The partials as the server resolved them at fetch time ([{slug, ref, version}]); the
    # prompt above has them expanded. unresolved: it includes some, but none were resolved
    # (a bundle's copy), so render refuses rather than leave "{{> slug }}" in the text.
    includes: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)
    unresolved: bool = field(default=False, repr=False, compare=False)

    @classmethod
    def from_source(
        cls, slug: str, version: int, sha256: str, labels: Any, source: str
    ) -> PromptVersion:
        """Build from a stored source; parsing it gives the exact render rules of the files."""
        names = tuple(labels) if isinstance(labels, list | tuple) else ()
        prompt = parse_prompt(source, f"{slug} v{version}")
        return cls(slug, version, sha256, names, source, prompt,
                   unresolved=bool(has_includes(source) and prompt_includes(prompt)))

    def with_includes(self, includes: list[dict[str, Any]], label: str | None,
                      fetch: Callable[[str, int], PromptVersion]) -> PromptVersion:
        """This version with its partials expanded as the server resolved them (each one
        fetched by number through ``fetch``); label: the one it was fetched by."""
        pinned = {(i["slug"], i["ref"]): i["version"] for i in includes}

        def lookup(slug: str, version: int | None, by_label: str | None) -> Found | None:
            number = version if version is not None else pinned.get(
                (slug, by_label if by_label is not None else "latest"))
            if number is None:
                return None
            found = fetch(slug, number)
            return Found(found.prompt, found.version, found.sha256)

        try:
            expanded = expand(self.slug, self.prompt, lookup, label).prompt
        except PartialError as exc:
            raise PromptSyncError(f"{self.slug} v{self.version}: {exc}") from None
        return replace(self, prompt=expanded, includes=tuple(includes), unresolved=False)

    def render(
        self, variables: Mapping[str, object] | None = None, /, **kw: object
    ) -> str | list[dict[str, str]]:
        """Fill the placeholders strictly (one RenderError naming every missing, unknown or
        mistyped variable)."""
        if self.unresolved:
            names = ", ".join(sorted({i.slug for i in prompt_includes(self.prompt)}))
            raise PromptSyncError(f"{self.slug} v{self.version} includes {names}, not resolved "
                                  "here (a bundle's copy): fetch it from the server to render")
        return self.prompt.render(variables, **kw)

    def validate_output(self, value: object) -> object:
        """A model's answer checked against the prompt's output_schema (text is read as JSON):
        the value when it fits, OutputInvalid naming every problem otherwise."""
        return self.prompt.validate_output(value)
