"""A prompt file's bytes: the size limit, UTF-8 without BOM, no control characters, newlines.

The hash of the normalised bytes is a version's identity, so the CLI and the server agree on it.
"""

from __future__ import annotations

import codecs
import hashlib
import re

from promptsync.errors import Problem

MAX_FILE_BYTES = 256 * 1024
MAX_PROBLEMS = 100  # reported for one file at most; the rest would only repeat the first ones

# Characters YAML forbids in a stream (the complement of PyYAML's printable set).
_NON_PRINTABLE_RE = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_BOM_MESSAGE = "the file starts with a byte order mark (BOM); save it as UTF-8 without BOM"


def normalise_newlines(data: bytes) -> bytes:
    r"""Turn \r\n and lone \r into \n."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def source_sha256(data: bytes | str) -> str:
    """Hex SHA-256 of the source with line endings normalised: a version's identity."""
    if isinstance(data, str):
        # surrogatepass: hashing never fails, even for text the parser would reject
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.sha256(normalise_newlines(data)).hexdigest()


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def decode(data: bytes | str) -> tuple[str | None, list[Problem]]:
    """Check size and encoding and normalise newlines; text None means stop here."""
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            return None, [Problem(_BOM_MESSAGE, 1, 1)]
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            line, col = position(data, exc.start)
            return None, [Problem("the text is not valid Unicode (a lone surrogate)", line, col)]
    else:
        raw = data
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Problem(f"the file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES} bytes (256 KiB)")
        ]
    if raw.startswith(codecs.BOM_UTF8):
        return None, [Problem(_BOM_MESSAGE, 1, 1)]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, [Problem("the file is UTF-16 encoded; save it as UTF-8", 1, 1)]
    if isinstance(data, str):
        text = data.replace("\r\n", "\n").replace("\r", "\n")
    else:
        raw = normalise_newlines(raw)  # first, so that a bad byte's line counts lone \r too
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            line_start = raw.rfind(b"\n", 0, exc.start) + 1
            col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
            byte = raw[exc.start]
            return None, [Problem(f"the file is not UTF-8 (invalid byte 0x{byte:02x})", line, col)]
    problems = []
    for match in _NON_PRINTABLE_RE.finditer(text):
        line, col = position(text, match.start())
        char = match.group()
        if char == "\0":
            problems.append(Problem("NUL byte in the file; a prompt file must be text", line, col))
        else:
            problems.append(Problem(
                f"control character U+{ord(char):04X} is not allowed in YAML; "
                "write it as an escape in a double-quoted string", line, col))
        if len(problems) >= MAX_PROBLEMS:
            break
    return (None if problems else text), problems
