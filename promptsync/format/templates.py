"""Template text: {{ name }} placeholders, scanning their syntax and rendering them strictly."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from promptsync.errors import RenderError

PLACEHOLDER_RE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
_SYNTAX_TOKEN_RE = re.compile(r"(?=(\{\{|\{%|\}\}|%\}|\n))")


def placeholder(name: str) -> str:
    """How a placeholder is written, for messages."""
    return "{{ " + name + " }}"


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Replace each {{ name }} in one pass, never re-expanding values; RenderError if missing."""
    missing = sorted({n for n in PLACEHOLDER_RE.findall(text) if n not in values})
    if missing:
        raise RenderError(missing, [])
    return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)


def template_syntax(text: str) -> Iterator[tuple[int, str, str | None]]:
    """Yield (offset, snippet, inner) for each {{...}}, {%...%} (inner None) and unclosed "{{"."""
    # Exactly what the lazy regex "{%.*?%}|{{(.*?)}}|{{" (no DOTALL) finds, but in linear time:
    # that regex is quadratic on a long line of "{{" or "{%" that nothing closes.
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
