r"""Partials: ``{{> slug }}``, ``{{> slug@label }}`` and ``{{> slug@3 }}`` include another text
prompt's template (SPEC §13). Pure: the caller injects how a slug and a selector are looked up,
so the server (the database), the client (the API) and lint (the local tree) resolve alike.

The ``\{{`` escape holds here too: ``\{{> slug }}`` is the literal text, never an include.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from promptsync.errors import PromptSyncError
from promptsync.format.prompt import Prompt
from promptsync.format.templates import INCLUDE_RE as _INCLUDE_RE
from promptsync.format.templates import placeholder_names

MAX_DEPTH = 8  # includes inside includes; deeper is refused as if it were a cycle


@dataclass(frozen=True)
class Include:
    """One ``{{> slug@selector }}`` as written: a version number, a label, or neither."""

    slug: str
    version: int | None = None
    label: str | None = None

    @property
    def ref(self) -> str | None:
        """The selector as written ("production", "3"), None for the default."""
        return str(self.version) if self.version is not None else self.label


@dataclass(frozen=True)
class Found:
    """What a lookup finds: the prompt at one version, and that version's hash."""

    prompt: Prompt
    version: int
    sha256: str = ""


@dataclass(frozen=True)
class Resolved:
    """An include as resolved: slug, the selector it was resolved by, the version found."""

    slug: str
    ref: str
    version: int
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The fetch JSON's ``includes`` item."""
        return {"slug": self.slug, "ref": self.ref, "version": self.version}


@dataclass(frozen=True)
class Expanded:
    """A prompt with every include replaced by its template, and what was included."""

    prompt: Prompt
    includes: list[Resolved] = field(default_factory=list)


# (slug, version, label) -> the prompt found, or None when there is no such prompt/version/label.
Lookup = Callable[[str, int | None, str | None], Found | None]


class PartialError(PromptSyncError):
    """An include that cannot be resolved: a cycle, a missing target, too deep, or a chat prompt.

    ``chain`` is the slugs from the including prompt to the one that failed."""

    def __init__(self, kind: str, chain: list[str], detail: str):
        self.kind = kind  # "cycle", "missing", "depth", "not_text"
        self.chain = list(chain)
        super().__init__(detail)


def parse_include(match: re.Match[str]) -> Include:
    """The Include of one match of the include pattern (group 1 set)."""
    slug, selector = match.group(1), match.group(2)
    if selector is not None and selector.isdigit():
        return Include(slug, version=int(selector))
    return Include(slug, label=selector)


def includes_in(text: str) -> list[Include]:
    """The includes of a template text, in order (escaped ones are text)."""
    return [parse_include(m) for m in _INCLUDE_RE.finditer(text) if m.group(1)]


def prompt_includes(prompt: Prompt) -> list[Include]:
    """The includes of a prompt's template or message contents, in order, without repeats."""
    seen: dict[Include, None] = {}
    for text in _texts(prompt):
        for include in includes_in(text):
            seen.setdefault(include, None)
    return list(seen)


def has_includes(text: str) -> bool:
    """A cheap first test: could this text include anything?"""
    return "{{>" in text


def chain_text(chain: list[str]) -> str:
    """``a -> b -> c``."""
    return " -> ".join(chain)


def expand(slug: str, prompt: Prompt, lookup: Lookup, label: str | None = None) -> Expanded:
    """The prompt with its includes resolved through ``lookup`` (recursively), variables merged.

    ``label`` is the label the prompt was fetched by: an include without a selector takes the
    included prompt's same label when it has one, else its latest (SPEC §13)."""
    resolved: dict[tuple[str, str, int], Resolved] = {}
    expanded = _expand(prompt, [slug], lookup, label, resolved)
    return Expanded(expanded, list(resolved.values()))


def _expand(prompt: Prompt, chain: list[str], lookup: Lookup, label: str | None,
            resolved: dict[tuple[str, str, int], Resolved]) -> Prompt:
    includes = prompt_includes(prompt)
    if not includes:
        return prompt
    variables = _declared(prompt)
    bodies: dict[Include, str] = {}
    for include in includes:
        path = [*chain, include.slug]
        if include.slug in chain:
            raise PartialError("cycle", path, f"include cycle: {chain_text(path)}")
        if len(chain) > MAX_DEPTH:
            raise PartialError("depth", path, f"includes nest deeper than {MAX_DEPTH}: "
                               f"{chain_text(path)}")
        found, ref = _find(include, lookup, label)
        if found is None:
            raise PartialError("missing", path, f"included prompt not found: {_named(include)} "
                               f"({chain_text(path)})")
        if found.prompt.template is None:
            raise PartialError("not_text", path, f"{include.slug} is a chat prompt; only a text "
                               f"prompt can be included ({chain_text(path)})")
        inner = _expand(found.prompt, path, lookup, label, resolved)
        resolved.setdefault((include.slug, ref, found.version),
                            Resolved(include.slug, ref, found.version, found.sha256))
        bodies[include] = inner.template or ""
        for name, spec in _declared(inner).items():
            variables.setdefault(name, spec)  # the including prompt's declaration wins

    def fill(text: str) -> str:
        return _INCLUDE_RE.sub(
            lambda m: bodies[parse_include(m)] if m.group(1) else m.group(), text)

    if prompt.template is not None:
        out = replace(prompt, template=fill(prompt.template))
    else:
        out = replace(prompt, messages=[{**m, "content": fill(m.get("content", ""))}
                                        for m in prompt.messages or []])
    # Without any block this is every placeholder required: what render assumes of no block.
    return replace(out, variables=variables)


def _find(include: Include, lookup: Lookup, label: str | None) -> tuple[Found | None, str]:
    if include.version is not None or include.label is not None:
        return lookup(include.slug, include.version, include.label), str(include.ref)
    if label is not None:
        found = lookup(include.slug, None, label)
        if found is not None:
            return found, label
    return lookup(include.slug, None, None), "latest"


def _named(include: Include) -> str:
    return include.slug if include.ref is None else f"{include.slug}@{include.ref}"


def _texts(prompt: Prompt) -> Iterator[str]:
    if prompt.template is not None:
        yield prompt.template
    for message in prompt.messages or []:
        yield message.get("content", "")


def _declared(prompt: Prompt) -> dict[str, dict[str, Any]]:
    """The prompt's variables, or without a block each placeholder as a required variable."""
    if prompt.variables:
        return dict(prompt.variables)
    names = {n for text in _texts(prompt) for n in placeholder_names(text)}
    return {name: {"required": True} for name in sorted(names)}

