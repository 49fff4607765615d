r"""Template text: {{ name }} placeholders, the \{{ escape, scanning syntax, rendering strictly.

A literal "{{" is written "\{{" (as in Handlebars): the backslash is dropped and the braces are
text. A backslash anywhere else is text, so "\\{{" is a backslash and a literal "{{"; escaping
a text is therefore one replace ("{{" -> "\{{"), which is what `promptsync import` relies on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from promptsync.errors import RenderError

ESCAPE = "\\{{"
# A placeholder, or an escaped "{{" (group 1 empty): one left-to-right scan decides which, the
# same in render, in the placeholder list and in the admin's view.
_TEMPLATE_RE = re.compile(r"\\\{\{|\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
_SYNTAX_TOKEN_RE = re.compile(r"(?=(\\\{\{|\{\{|\{%|\}\}|%\}|\n))")
# A partial, {{> slug }}, {{> slug@label }} or {{> slug@3 }} (partials.py resolves them), or
# an escaped "{{" (group 1 empty); INCLUDE_INNER_RE is what lies between the braces.
_SLUG = r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*"
_SELECTOR = r"[a-z0-9][a-z0-9._-]*"
INCLUDE_INNER_RE = re.compile(r">[ \t]*(" + _SLUG + r")(?:@(" + _SELECTOR + r"))?[ \t]*")
INCLUDE_RE = re.compile(r"\\\{\{|\{\{" + INCLUDE_INNER_RE.pattern + r"\}\}")


def placeholder(name: str) -> str:
    """How a placeholder is written, for messages."""
    return "{{ " + name + " }}"


def escape_braces(text: str) -> str:
    """The template text that renders as ``text`` exactly: every "{{" written as "\\{{"."""
    return text.replace("{{", ESCAPE)


def placeholder_names(text: str) -> set[str]:
    """The names of the placeholders in a template text (escaped braces are not placeholders)."""
    return {m.group(1) for m in _TEMPLATE_RE.finditer(text) if m.group(1)}


def segments(text: str) -> Iterator[tuple[str, str | None]]:
    """The text as it renders, in pieces: (literal text, None) or (placeholder as written, name)."""
    start = 0
    pending = ""
    for match in _TEMPLATE_RE.finditer(text):
        name = match.group(1)
        if name is None:  # an escape: its braces join the literal text
            pending += text[start:match.start()] + "{{"
        else:
            if pending or match.start() > start:
                yield pending + text[start:match.start()], None
            pending = ""
            yield match.group(), name
        start = match.end()
    if pending or start < len(text):
        yield pending + text[start:], None


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Replace each {{ name }} in one pass, never re-expanding values; RenderError if missing."""
    missing = sorted(placeholder_names(text) - set(values))
    if missing:
        raise RenderError(missing, [])
    return _TEMPLATE_RE.sub(lambda m: values[m.group(1)] if m.group(1) else "{{", text)


def template_syntax(text: str) -> Iterator[tuple[int, str, str | None]]:
    """Yield (offset, snippet, inner) for each {{...}}, {%...%} (inner None) and unclosed "{{"."""
    # Exactly what the lazy regex r"\\{{|{%.*?%}|{{(.*?)}}|{{" (no DOTALL) finds, less its
    # escapes, but in linear time: that regex is quadratic on a long line of "{{" or "{%" that
    # nothing closes.
    logic_close = line_end = -1  # cached next "%}" and next newline: each search moves forward

    def closed_on_its_line(pos: int) -> bool:
        nonlocal logic_close, line_end
        if logic_close < pos + 2:
            found = text.find("%}", pos + 2)
            logic_close = found if found >= 0 else len(text) + 1
        if line_end < pos:
            found = text.find("\n", pos)
            line_end = found if found >= 0 else len(text)
        return logic_close < line_end

    def scan(
        tokens: list[tuple[str, int]], can_close: bool
    ) -> Iterator[tuple[int, str, str | None]]:
        # can_close False: the rest of a line after an unclosed "{{", where no "}}" follows.
        resume = open_at = logic_at = -1
        inside: list[tuple[str, int]] = []
        for token, pos in tokens:
            if pos < resume:  # overlaps what was consumed, e.g. the "%}" in "{%}"
                continue
            if open_at >= 0:
                if token == "}}":
                    yield open_at, text[open_at : pos + 2], text[open_at + 2 : pos]
                    open_at, inside, resume = -1, [], pos + 2
                else:
                    inside.append((token, pos))
            elif logic_at >= 0:
                if token == "%}":
                    yield logic_at, text[logic_at : pos + 2], None
                    logic_at, resume = -1, pos + 2
            elif token == ESCAPE:
                resume = pos + 3  # its "{{" is text, not the start of a placeholder
            elif token == "{{":
                if can_close:
                    open_at, resume = pos, pos + 2
                else:
                    yield pos, "{{", None
                    resume = pos + 2
            elif token == "{%" and closed_on_its_line(pos):
                logic_at, resume = pos, pos + 2
        if open_at >= 0:
            yield open_at, "{{", None
            yield from scan(inside, can_close=False)

    line: list[tuple[str, int]] = []
    # Lookahead, so overlapping tokens ("{%}", "{{{", "}}}") are all seen.
    for match in _SYNTAX_TOKEN_RE.finditer(text):
        if match.group(1) == "\n":
            yield from scan(line, can_close=True)
            line = []
        else:
            line.append((match.group(1), match.start()))
    yield from scan(line, can_close=True)
