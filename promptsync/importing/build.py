"""A prompt's fields as the bytes of a prompt file, proven by reading them back with the parser.

The short fields are written by PyYAML's safe dumper; the texts (template, message contents)
by format/emit.py, a literal block where one holds the text exactly, else a double-quoted
scalar. The file is then parsed as lint and push will parse it: unless it gives back every
field exactly, the texts are written double-quoted, and if even that fails the prompt is
refused with the parser's reason, never written approximately.
"""

from __future__ import annotations

from typing import Any

import yaml

from promptsync.errors import PromptFileError
from promptsync.format.emit import double_quoted, text_scalar
from promptsync.format.prompt import Prompt, parse_prompt

_HEAD = ("description", "model", "params", "variables", "tags", "metadata")


def _text(text: str, indent: int, parent: int, quoted: bool) -> str:
    return double_quoted(text, indent) if quoted else text_scalar(text, indent, parent)


def render_file(fields: dict[str, Any], quoted: bool = False) -> bytes:
    """The prompt file for ``fields`` (``quoted``: every text double-quoted)."""
    head = {key: fields[key] for key in _HEAD if fields.get(key) not in (None, {}, [])}
    # Flow style for the innermost mappings and lists ({temperature: 0.2}), as people write them.
    out = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, default_flow_style=None,
                         width=100) if head else ""
    if fields.get("template") is not None:
        out += "template: " + _text(fields["template"], 2, 0, quoted)
    else:
        out += "messages:\n"
        for message in fields["messages"]:
            out += (f"  - role: {message['role']}\n"
                    f"    content: " + _text(message["content"], 6, 4, quoted))
    return out.encode("utf-8")


def _matches(prompt: Prompt, fields: dict[str, Any]) -> bool:
    got = prompt.to_dict()
    for key in (*_HEAD, "template", "messages"):
        want = fields.get(key)
        if key == "variables" and want:
            # The parser fills in what a spec leaves out (required from the default).
            have = {n: {k: v for k, v in s.items() if k in want.get(n, {})}
                    for n, s in got[key].items()}
            if have != want:
                return False
        elif want not in (None, {}, []) and got[key] != want:
            return False
    return True


def build(fields: dict[str, Any]) -> bytes | str:
    """The bytes of a prompt file that reads back as ``fields`` exactly; or why there are none."""
    reason = "it does not read back exactly"
    for quoted in (False, True):
        data = render_file(fields, quoted)
        try:
            prompt = parse_prompt(data, "<import>")
        except PromptFileError as exc:
            problem = exc.problems[0]
            where = f" (line {problem.line} of the file it would be)" if problem.line else ""
            reason = f"{problem.message}{where}"
            continue
        if _matches(prompt, fields):
            return data
    return reason
