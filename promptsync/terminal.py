"""Text from a server or a file made safe for a terminal: control and invisible characters shown.

A terminal acts on what it is sent: ESC and the C1 controls start sequences that move the
cursor, clear the screen, set the window title or hide a link; CR, backspace and the line
separators rewrite what a line seems to say; the bidi controls reorder it; zero-width and tag
characters hide text. Each of these is shown as a Python-style escape (``\\x1b``, ``\\u202e``,
``\\U000e0041``), which only prints. ZWJ and ZWNJ stay: emoji and scripts such as Persian need
them, and they neither act on a terminal nor reorder a line. Escaped text is printable, so
escaping twice changes nothing.
"""

from __future__ import annotations

import re
import unicodedata

# Characters kept as they are: everything a line may hold that is not a candidate.
_LINE_CANDIDATE = re.compile(r"[^\t\x20-\x7e]")
# In a block of lines, LF and CRLF are line ends; a CR anywhere else rewrites the line.
_TEXT_CANDIDATE = re.compile(r"\r(?!\n)|[^\t\n\r\x20-\x7e]")
# Raw TAB, LF and CR in JSON text are whitespace between tokens (in a string they are escaped).
_JSON_CANDIDATE = re.compile(r"[^\t\n\r\x20-\x7e]")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls, lone surrogates, separators
_JOINERS = frozenset({"\u200c", "\u200d"})
_NAMED = {"\n": "\\n", "\r": "\\r"}


def is_unsafe(char: str) -> bool:
    """Whether a terminal could act on ``char`` or it could hide or reorder text."""
    category = unicodedata.category(char)
    return category in _UNSAFE_CATEGORIES or (category == "Cf" and char not in _JOINERS)


def visible(char: str) -> str:
    """``char`` as an escape: ``\\n``, ``\\x1b``, ``\\u202e`` or ``\\U000e0041``."""
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    return visible(char) if is_unsafe(char) else char


def _json_shown(match: re.Match[str]) -> str:
    char = match.group()
    if not is_unsafe(char):
        return char
    # JSON has only \uXXXX: a character beyond the BMP is written as its surrogate pair.
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}"
                   for i in range(0, len(units), 2))


def escape_line(text: str) -> str:
    """One line for the terminal: every unsafe character escaped, newlines too; tabs kept."""
    return _LINE_CANDIDATE.sub(_shown, text)


def escape_text(text: str) -> str:
    """A block of lines (a source, a diff): as escape_line, but LF and CRLF line ends kept."""
    return _TEXT_CANDIDATE.sub(_shown, text)


def escape_json(document: str) -> str:
    """JSON text with every unsafe character as ``\\uXXXX``: the same JSON, safe to print.

    Outside strings JSON holds only ASCII punctuation, digits, letters and whitespace, so any
    unsafe character is inside a string, where ``\\uXXXX`` stands for it exactly.
    """
    return _JSON_CANDIDATE.sub(_json_shown, document)
