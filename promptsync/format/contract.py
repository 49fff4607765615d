"""A variable's declared type and enum: checking values against them, and reading typed values
from the command line. Pure; the file parser, the server's render and the client all use it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from promptsync.errors import RenderError

TYPES = ("string", "integer", "number", "boolean", "array", "object")
_ARTICLE = {"integer": "an integer", "array": "an array", "object": "an object"}
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def type_name(type_: str) -> str:
    """'an integer', 'a string', ... for messages."""
    return _ARTICLE.get(type_, f"a {type_}")


def shown(value: object) -> str:
    """A value as JSON, short, for messages."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def has_type(value: object, type_: str) -> bool:
    """Whether a JSON value is of a declared type (booleans are never numbers)."""
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if type_ == "integer":
        return isinstance(value, int)
    if type_ == "number":
        return isinstance(value, int | float)
    if type_ == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _same(a: object, b: object) -> bool:
    # JSON equality: 1 and true differ, 1 and 1.0 do not.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def in_enum(value: object, enum: Sequence[object]) -> bool:
    """Whether a value is one of an enum's values."""
    return any(_same(value, allowed) for allowed in enum)


def value_problem(value: object, spec: Mapping[str, Any]) -> str | None:
    """Why a value breaks a variable's declared type or enum, or None when it fits."""
    type_ = spec.get("type")
    if type_ is None:
        # Undeclared: text, as before types existed (numbers are written as text).
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return f"must be text or a number, not {shown(value)} (declare its type)"
    elif not has_type(value, type_):
        return f"must be {type_name(type_)}, not {shown(value)}"
    enum = spec.get("enum")
    if enum is not None and not in_enum(value, enum):
        return f"must be one of {', '.join(shown(v) for v in enum)}, not {shown(value)}"
    return None


def as_text(value: object) -> str:
    """How a value is written into a template: text as is, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def from_command_line(text: str, spec: Mapping[str, Any]) -> object:
    """A command-line string as the declared type; ValueError saying why it cannot be."""
    type_ = spec.get("type") or "string"
    if type_ == "string":
        return text
    if type_ == "integer":
        if not _INTEGER_RE.fullmatch(text.strip()):
            raise ValueError(f"must be an integer, not {shown(text)}")
        return int(text)
    if type_ == "number":
        if _INTEGER_RE.fullmatch(text.strip()):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"must be a number, not {shown(text)}")
        return number
    if type_ == "boolean":
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"must be true or false, not {shown(text)}")
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(f"must be {type_name(type_)} written as JSON, not {shown(text)}"
                         ) from None
    if not has_type(value, type_):
        raise ValueError(f"must be {type_name(type_)} written as JSON, not {shown(text)}")
    return value


def command_line_values(specs: Mapping[str, Mapping[str, Any]], raw: Mapping[str, str]
                        ) -> dict[str, object]:
    """``-v NAME=VALUE`` strings as their declared types (an undeclared name stays text, for
    the render to name); RenderError naming every value that is not its type."""
    values: dict[str, object] = {}
    invalid: dict[str, str] = {}
    for name, text in raw.items():
        try:
            values[name] = from_command_line(text, specs.get(name) or {})
        except ValueError as exc:
            invalid[name] = f"{exc} (-v {name}={text})"
    if invalid:
        raise RenderError([], [], invalid)
    return values
