"""Parse and validate one prompt file; the CLI and the server both use this, so both judge alike.

The work is done by small modules, one step each: source (bytes to text), safeyaml (text to
nodes), schema (nodes to a prompt's fields), templates (placeholders) and slugs (file names).
This module is their public face: code outside the package (sync, client, the server) imports
the format from here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptsync.errors import PromptFileError, PromptSyncError, RenderError
from promptsync.format.contract import as_text, value_problem
from promptsync.format.outschema import check_output
from promptsync.format.safeyaml import LOADER, LoaderClass
from promptsync.format.schema import PromptChecker as _Checker
from promptsync.format.slugs import EXTENSIONS, slug_for_path, slug_problem
from promptsync.format.source import MAX_FILE_BYTES, source_sha256
from promptsync.format.source import decode as _decode
from promptsync.format.templates import placeholder_names, render_template

__all__ = [
    "EXTENSIONS",
    "MAX_FILE_BYTES",
    "Prompt",
    "parse_prompt",
    "slug_for_path",
    "slug_problem",
    "source_sha256",
]

# Read at each parse, so tests can swap in PyYAML's pure-Python loader here.
_Loader: LoaderClass = LOADER


@dataclass(frozen=True)
class Prompt:
    """A validated prompt: a text template or a list of chat messages, plus its settings."""

    type: str
    template: str | None = None
    messages: list[dict[str, str]] | None = None
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | bool | None = None  # a JSON Schema of the model's answer

    def _texts(self) -> list[str]:
        if self.template is not None:
            return [self.template]
        return [m.get("content", "") for m in self.messages or []]

    def placeholders(self) -> list[str]:
        """Sorted unique placeholder names used in the template or the messages."""
        return sorted({n for text in self._texts() for n in placeholder_names(text)})

    def render(
        self, variables: Mapping[str, object] | None = None, /, **kw: object
    ) -> str | list[dict[str, str]]:
        """Fill the placeholders strictly: unknown, missing or mistyped variables raise together."""
        given: dict[str, object] = {**(variables or {}), **kw}
        # Without a variables block every placeholder is required and nothing else is allowed.
        declared = self.variables or {n: {"required": True} for n in self.placeholders()}
        unknown = sorted(set(given) - set(declared))
        values: dict[str, str] = {}
        missing = []
        invalid: dict[str, str] = {}
        for name, spec in declared.items():
            default = spec.get("default")
            if name in given:
                problem = value_problem(given[name], spec)
                if problem is not None:
                    invalid[name] = problem
                values[name] = as_text(given[name])
            elif default is not None:
                values[name] = as_text(default)
            elif spec.get("required", True):
                missing.append(name)
            else:
                values[name] = ""
        if missing or unknown or invalid:
            unset = sorted(set(declared) - set(given))
            raise RenderError(sorted(missing), unknown, invalid, unset)
        if self.template is not None:
            return render_template(self.template, values)
        return [
            {"role": m["role"], "content": render_template(m["content"], values)}
            for m in self.messages or []
        ]

    def validate_output(self, value: object) -> object:
        """A model's answer checked against output_schema (text is read as JSON first): the
        value when it fits, OutputInvalid naming every problem otherwise."""
        if self.output_schema is None:
            raise PromptSyncError("this prompt declares no output_schema to check an answer by")
        return check_output(self.output_schema, value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with both template and messages present (one of them None)."""
        return {
            "type": self.type,
            "template": self.template,
            "messages": copy.deepcopy(self.messages),
            "model": self.model,
            "params": copy.deepcopy(self.params),
            "variables": copy.deepcopy(self.variables),
            "description": self.description,
            "tags": list(self.tags),
            "metadata": copy.deepcopy(self.metadata),
            "output_schema": copy.deepcopy(self.output_schema),
        }


def parse_prompt(data: bytes | str, path: str = "<source>") -> Prompt:
    """Parse and validate one prompt file; raise PromptFileError listing every problem found."""
    text, problems = _decode(data)
    if text is None:
        raise PromptFileError(path, problems)
    checker = _Checker(text, _Loader)
    fields = checker.run()
    if checker.problems or fields is None:
        # Stable sort: reading order, problems without a line first.
        checker.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise PromptFileError(path, checker.problems)
    return Prompt(**fields)
