"""Write a text as a YAML scalar that reads back exactly: a literal block where one can hold it.

A literal block (``|``) keeps every character of its lines, tabs and trailing spaces included;
its chomping indicator says how many final newlines the text has (``|-`` none, ``|`` one, ``|+``
all of them), and an indentation indicator (``|2``) is written when the text starts with a space,
a tab or a blank line, because the indentation is otherwise guessed from the first line. What a
block cannot hold (a carriage return, which the parser turns into a newline as it reads the
file; the line separators U+0085, U+2028 and U+2029; characters YAML does not allow in a file)
goes in a double-quoted scalar instead, written one source line per file line with escapes.
"""

from __future__ import annotations

import re

# What a literal block cannot hold as it is: a CR (read as a newline), YAML's other line breaks,
# a BOM, and every character a YAML stream may not contain.
_NOT_IN_BLOCK_RE = re.compile(
    "[\r\x85\u2028\u2029\ufeff]|[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_NAMED = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\r": "\\r", "\n": "\\n", "\0": "\\0"}


def literal_block(text: str, indent: int, parent: int) -> str | None:
    """``|`` header and lines holding ``text`` at ``indent`` spaces; None when no block can.

    ``parent`` is the column of the key that holds the block: an indentation indicator counts
    from there (under a list item, from the key after the dash, not from the dash).
    """
    body = text.rstrip("\n")
    if not body.strip() or _NOT_IN_BLOCK_RE.search(text):
        return None
    finals = len(text) - len(body)
    chomping = "-" if finals == 0 else "" if finals == 1 else "+"
    # Without an indicator the indentation is guessed from the first line that is not empty: a
    # space starting it (or a line of spaces before it) would be taken for indentation, and
    # libyaml refuses a tab there.
    indicator = str(indent - parent) if body[0] in " \t\n" else ""
    pad = " " * indent
    lines = [pad + line if line else "" for line in body.split("\n")]
    return f"|{indicator}{chomping}\n" + "\n".join(lines) + "\n" * max(finals, 1)


def double_quoted(text: str, indent: int) -> str:
    """A double-quoted scalar for any text, one source line per file line (escaped breaks)."""
    out = ['"']
    pad = " " * indent
    at_line_start = False
    for index, char in enumerate(text):
        if char in _NAMED:
            out.append(_NAMED[char])
        elif at_line_start and char == " ":
            out.append("\\ ")  # a continuation line's leading spaces would be dropped
        elif _NOT_IN_BLOCK_RE.match(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
        at_line_start = False
        if char == "\n" and index + 1 < len(text):
            # An escaped line break joins the lines without a space: the file keeps the text's
            # lines as lines, and the scalar still holds exactly one "\n" here.
            out.append("\\\n" + pad)
            at_line_start = True
    out.append('"\n')
    return "".join(out)


def text_scalar(text: str, indent: int, parent: int) -> str:
    """The scalar for ``text`` after ``key: ``: a literal block when possible, else quoted."""
    return literal_block(text, indent, parent) or double_quoted(text, indent)
