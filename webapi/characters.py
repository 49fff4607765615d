"""Which characters a stored text may hold: the one rule the API's JSON bodies
(webapi/api/inputs.py) and the admin's forms (through the services) share."""

from __future__ import annotations

import re

from webapi.errors import HttpError

# No NUL, no control character but tab and line breaks, and no lone surrogate, which a JSON
# escape (\ud800) or a byte that is not UTF-8 (decoded with surrogateescape) leaves in a string
# and which neither database can store. A key, or a field read as one line (a name), takes no
# line break or tab either.
# The controls a one-line field refuses, as a regex class (webapi/shapes writes it into the
# JSON Schema pattern, which cannot name surrogates: parse_json refuses those in every string).
LINE_CONTROLS = r"\x00-\x1f\x7f-\x9f"
TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
LINE = re.compile(f"[{LINE_CONTROLS}\ud800-\udfff]")


def describe(found: re.Match[str]) -> str:
    """What is wrong with the character ``found``, to follow a field's name in a 400."""
    char = found.group()
    if char == "\x00":
        return "contains a NUL character, which no field accepts"
    if "\ud800" <= char <= "\udfff":
        return "is not valid Unicode text (a lone surrogate, or bytes that are not UTF-8)"
    return f"contains the control character U+{ord(char):04X}"


def text_problem(value: str, *, one_line: bool) -> str | None:
    """What is wrong with ``value``'s characters (see describe), or None when it may be stored."""
    found = (LINE if one_line else TEXT).search(value)
    return None if found is None else describe(found)


def check_line(value: str, field: str) -> None:
    """400 naming ``field`` when ``value``, one line (a name), holds a character of LINE: the
    services check it, so a form refuses what the API's shapes refuse."""
    problem = text_problem(value, one_line=True)
    if problem is not None:
        raise HttpError(400, f"'{field}' {problem}.", field=field)
