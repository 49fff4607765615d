"""The one input layer of /api/v1: each JSON body parsed once and strictly, then validated
against its declared shape (a 400 that names the field), and no NUL in a path or a query."""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel

from webapi.characters import LINE as _LINE
from webapi.characters import TEXT as _TEXT
from webapi.characters import describe as _character
from webapi.errors import HttpError
from webapi.shapes.refusal import field_name, validated

M = TypeVar("M", bound=BaseModel)

MAX_DEPTH = 64
MAX_NUMBER = 2**63 - 1  # an integer beyond 64 bits is no count, id or version of ours

# `source` is left to the prompt parser, which judges a file's text (bytes that are not UTF-8
# included) with line numbers, as `lint` does: a 422 like any invalid prompt file. Everywhere
# else, the characters of webapi/characters.py (the admin's forms keep the same rule): text
# anywhere (_TEXT), and one line in a key (_LINE).
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# What in a body's text can become a character the walk refuses: an escape of a C0 or C1
# control, DEL or a surrogate, \b or \f, or DEL, a C1 control or a surrogate (surrogateescape's
# too) raw; a raw C0 control is a JSON error. Without one (nearly every body), only keys and
# numbers need a look, which the parser's hooks take as they go.
_ESCAPE = re.compile(r"\\(?:u(?:00[0189]|007[fF]|[dD][89a-fA-F])|[bf])")
_RAW = re.compile("[\x80-\x9f\ud800-\udfff]")


class _Refused:
    """A number json.loads met that no field takes, kept so the walk can name its field."""

    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


def _constant(name: str) -> _Refused:
    # Python's json reads NaN, Infinity and -Infinity, which JSON does not have (RFC 8259 §6).
    return _Refused(f"is {name}, which JSON does not allow")


def _float(literal: str) -> float | _Refused:
    value = float(literal)
    return value if math.isfinite(value) else _Refused("is too large a number")


def _int(literal: str) -> int | _Refused:
    # Checked on the literal first: int() of a very long one is slow, then a ValueError.
    if len(literal) <= 20 and -MAX_NUMBER - 1 <= (value := int(literal)) <= MAX_NUMBER:
        return value
    return _Refused("is out of range")


def _refuse(path: tuple[str | int, ...], problem: str) -> HttpError:
    if not path:
        return HttpError(400, f"The request body {problem}.")
    name = field_name(path)
    return HttpError(400, f"'{name}' {problem}.", field=name)


def _check_depth(text: str) -> None:
    """400 for nesting deeper than MAX_DEPTH, found before parsing: json.loads recurses."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    # The text outside strings: escaped backslashes and quotes taken out, every other piece
    # between quotes is structure. (Where the parser would stop on malformed JSON, this reads
    # the same strings up to that point, so the depth it reaches is counted.)
    outside = text.replace("\\\\", "").replace('\\"', "").split('"')[0::2]
    depth = 0
    for bracket in _NOT_BRACKET.sub("", "".join(outside)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise HttpError(400, f"The request body is nested deeper than {MAX_DEPTH} levels.")


def _check_values(body: object) -> None:
    """400 naming the first field, in document order, that holds a refused number or text."""
    stack: list[tuple[tuple[str | int, ...], object]] = [((), body)]
    while stack:
        path, node = stack.pop()
        children: list[tuple[tuple[str | int, ...], object]] = []
        if isinstance(node, dict):
            for key, value in node.items():
                if found := _LINE.search(key):
                    raise _refuse(path, f"has a key that {_character(found)}")
                children.append(((*path, key), value))
        elif isinstance(node, list):
            children = [((*path, index), value) for index, value in enumerate(node)]
        elif isinstance(node, str) and not (node.isascii() and node.isprintable()):
            if not (path and path[-1] == "source") and (found := _TEXT.search(node)):
                raise _refuse(path, _character(found))
        elif isinstance(node, _Refused):
            raise _refuse(path, node.why)
        stack.extend(reversed(children))


def _suspect(text: str) -> bool:
    return bool(_ESCAPE.search(text) or "\x7f" in text
                or (not text.isascii() and _RAW.search(text)))


def parse_json(raw: bytes) -> Any:
    """raw as JSON, strictly (RFC 8259: UTF-8, finite numbers), at most MAX_DEPTH deep, with
    text every database can store; or a 400 naming the field."""
    # surrogateescape: a byte that is not UTF-8 reaches the walk, which names its field.
    text = raw.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    _check_depth(text)
    flagged: list[object] = []  # by a hook: then the walk finds the field and names it

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if any(_LINE.search(key) for key, _ in items):
            flagged.append(items)
        return dict(items)

    def number(value: Any) -> Any:
        if isinstance(value, _Refused):
            flagged.append(value)
        return value

    try:
        body = json.loads(text, object_pairs_hook=pairs,
                          parse_constant=lambda literal: number(_constant(literal)),
                          parse_float=lambda literal: number(_float(literal)),
                          parse_int=lambda literal: number(_int(literal)))
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"The request body is not valid JSON: {exc.msg} (line "
                             f"{exc.lineno}, column {exc.colno}).") from None
    if flagged or _suspect(text):
        _check_values(body)
    return body


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 (415 when not sent as JSON). Every JSON body of the
    API is read here, and only here."""
    if not request.data:
        raise HttpError(400, "The request needs a JSON object body.")
    if not request.is_json:
        # Browsers send text/plain and form bodies cross-site without a preflight; insisting
        # on application/json closes login CSRF and any other cookie-borne cross-site write.
        raise HttpError(415, "Send the body as JSON with 'Content-Type: application/json'.")
    body = parse_json(request.get_data())
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object.")
    return body


def body_as(model: type[M]) -> M:
    """The request's JSON object as the declared shape (webapi/shapes/), or the 400 naming
    the first wrong field: every body of the API that has a shape is read here."""
    return validated(model, json_body())


NUL_DETAIL = "The request contains a NUL character, which no field accepts."


def reject_nul() -> None:
    """400 for a NUL in an API request's path or query: Postgres refuses NUL in text (a 500
    there) while SQLite stores it, so without this check one request had two outcomes. (A
    body's NUL is refused by parse_json, with its field.)"""
    query = request.environ.get("QUERY_STRING", "")
    # The raw query string first: an argument (name or value) can only hold a NUL sent as %00
    # (or raw), so most requests are cleared without parsing their arguments.
    if "\x00" in request.path or (("%00" in query or "\x00" in query) and any(
            "\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))):
        raise HttpError(400, NUL_DETAIL)
