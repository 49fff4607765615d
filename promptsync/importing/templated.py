"""Prompty (.prompty, Jinja) and Dotprompt (.prompt, Handlebars) files: front matter and body.

The front matter is split off by its "---" lines and read with the same safe YAML reader as
prompt files (no aliases, no tags that build objects). Their "{{ name }}" become placeholders
(kept as written), their roles become messages; anything else in braces is template logic,
reported, and the file skipped. Text without role markers becomes a text prompt, kept exactly.
"""

from __future__ import annotations

import re
from typing import Any

from promptsync.format.safeyaml import YamlReader
from promptsync.format.source import position
from promptsync.format.templates import ESCAPE
from promptsync.importing.model import Found, Skipped
from promptsync.importing.variables import dotprompt_fields, prompty_fields

_FRONT_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# The brace constructs of each language, on one line (a construct that spans lines is logic
# anyway, and its "{{" is then reported as not closed). Jinja's "{%" and "{#" are logic at once;
# in Handlebars they are text (a "{% %}" on one line is then refused by the prompt file's lint).
_TOKENS = {
    "prompty": re.compile(r"\\*\{\{.*?\}\}|\\*\{\{|\{%|\{#"),
    "dotprompt": re.compile(r"\\*\{\{\{.*?\}\}\}|\\*\{\{.*?\}\}|\\*\{\{"),
}
_PLACEHOLDER_RE = re.compile(rf"\{{\{{[ \t]*({_NAME})[ \t]*\}}\}}")
_TRIPLE_RE = re.compile(rf"\{{\{{\{{[ \t]*({_NAME})[ \t]*\}}\}}\}}")
_ROLE_MARK_RE = re.compile(r"""(?<!\\)\{\{~?[ \t]*role[ \t]+(["'])(\w+)\1[ \t]*~?\}\}""")
_PROMPTY_ROLE_RE = re.compile(
    r"^[ \t]*#?[ \t]*(system|user|assistant|function|tool)[ \t]*:[ \t]*\r?$", re.I | re.M)
_PROMPTY_UNSUPPORTED_RE = re.compile(
    r"^[ \t]*(?:#?[ \t]*(?:system|user|assistant|function|tools?)[ \t]*\[.*\][ \t]*:"
    r"|#?[ \t]*tools[ \t]*:|!\[thread\])[ \t]*\r?$", re.I | re.M)
_DOTPROMPT_ROLES = {"system": "system", "user": "user", "model": "assistant", "tool": "tool"}
_PROMPTY_ROLES = {"function": "tool"}


def split_front_matter(origin: str, text: str) -> tuple[dict[str, Any], str] | Skipped:
    """The front matter as JSON values and the body after it (exactly); none is {} and all."""
    match = _FRONT_RE.match(text)
    if match is None:
        return {}, text
    reader = YamlReader(match.group(1).replace("\r\n", "\n"))
    node = reader.compose()
    meta = reader.json(node, "front matter") if node is not None else {}
    if reader.problems:
        problem = reader.problems[0]
        line = f" line {problem.line + 1}:" if problem.line is not None else ""
        return Skipped(origin, f"its front matter is not valid:{line} {problem.message}")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return Skipped(origin, "its front matter is not a mapping of keys")
    return meta, text[match.end():]


def _logic(origin: str, body: str, offset: int, snippet: str) -> Skipped:
    line = position(body, offset)[0]
    return Skipped(origin, f"template logic '{snippet.strip()}' (line {line} of the body) is not "
                           "supported; only {{ name }} placeholders")


def convert_body(origin: str, body: str, dialect: str) -> tuple[str, list[str], set[str]] | Skipped:
    """The body in this format's terms: (template text, notes, placeholder names), or why not.

    Role markers of Dotprompt are kept as they are here; split_roles takes them out.
    """
    out: list[str] = []
    names: set[str] = set()
    notes: list[str] = []
    start = 0
    for match in _TOKENS[dialect].finditer(body):
        snippet = match.group()
        out.append(body[start:match.start()])
        start = match.end()
        slashes = len(snippet) - len(snippet.lstrip("\\"))
        bare = snippet[slashes:]
        if slashes:
            if dialect == "dotprompt" and slashes == 1:
                out.append(ESCAPE + bare[2:])  # Handlebars' own escape: the same here
                continue
            return Skipped(origin, f"'{snippet[:40]}' (a backslash before braces) reads "
                                   "differently in a prompt file; write it without the backslash")
        found = _PLACEHOLDER_RE.fullmatch(bare)
        if found is not None and dialect == "dotprompt" and found.group(1) == "history":
            return _logic(origin, body, match.start(), bare)  # Dotprompt's helper, no variable
        if found is not None:
            names.add(found.group(1))
            out.append(bare)
        elif dialect == "dotprompt" and (triple := _TRIPLE_RE.fullmatch(bare)) is not None:
            names.add(triple.group(1))
            out.append("{{" + triple.group(1) + "}}")
            notes.append(f"'{bare}' read as '{{{{{triple.group(1)}}}}}' (no HTML escaping here)")
        elif dialect == "dotprompt" and _ROLE_MARK_RE.fullmatch(bare):
            out.append(bare)
        elif bare in ("{%", "{#"):
            line_end = body.find("\n", match.start())
            close = body.find(bare[1] + "}", match.start(), None if line_end < 0 else line_end)
            return _logic(origin, body, match.start(),
                          body[match.start():close + 2] if close >= 0 else bare)
        elif bare == "{{":
            return Skipped(origin, f"'{{{{' on line {position(body, match.start())[0]} of the "
                                   "body is not closed")
        else:
            return _logic(origin, body, match.start(), bare)
    out.append(body[start:])
    return "".join(out), notes, names


def _trim(chunk: str) -> str:
    """A message's text: the blank lines around it (the layout of the file) taken off."""
    lines = chunk.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines).removesuffix("\r")


def split_roles(origin: str, template: str, dialect: str
                ) -> str | list[dict[str, str]] | Skipped:
    """The template as one text (no role markers) or as messages, one per role marker."""
    if dialect == "prompty":
        if (bad := _PROMPTY_UNSUPPORTED_RE.search(template)) is not None:
            return Skipped(origin, f"'{bad.group().strip()}' is not supported here")
        marks = [(m.start(), m.end(), m.group(1).lower()) for m in
                 _PROMPTY_ROLE_RE.finditer(template)]
        first_role, roles = "system", _PROMPTY_ROLES
    else:
        marks = [(m.start(), m.end(), m.group(2)) for m in _ROLE_MARK_RE.finditer(template)]
        first_role, roles = "user", _DOTPROMPT_ROLES
    if not marks:
        return template
    messages = []
    before = _trim(template[: marks[0][0]])
    if before:
        messages.append({"role": first_role, "content": before})
    for index, (_, end, role) in enumerate(marks):
        until = marks[index + 1][0] if index + 1 < len(marks) else len(template)
        content = _trim(template[end:until])
        mapped = roles.get(role, role)
        if mapped not in ("system", "user", "assistant", "tool"):
            return Skipped(origin, f"the role '{role}' has no equivalent here")
        if content:
            messages.append({"role": mapped, "content": content})
    if not messages:
        return Skipped(origin, "the body is empty")
    return messages


def templated_prompt(origin: str, name: str, text: str, dialect: str,
                     folder: tuple[str, ...] = ()) -> Found | Skipped:
    """A Prompty or Dotprompt file as a prompt's fields."""
    split = split_front_matter(origin, text)
    if isinstance(split, Skipped):
        return split
    meta, body = split
    converted = convert_body(origin, body, dialect)
    if isinstance(converted, Skipped):
        return converted
    template, notes, names = converted
    shaped = split_roles(origin, template, dialect)
    if isinstance(shaped, Skipped):
        return shaped
    if isinstance(shaped, str) and not shaped.strip():
        return Skipped(origin, "the body is empty")
    build = prompty_fields if dialect == "prompty" else dotprompt_fields
    fields = build(meta, sorted(names), notes)
    fields["template" if isinstance(shaped, str) else "messages"] = shaped
    return Found(origin, name, fields, folder, notes)
