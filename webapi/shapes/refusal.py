"""The one place a validation failure becomes the §5 error: a 400 whose sentence and `field`
name the first field that is wrong."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from webapi.errors import HttpError
from webapi.shapes.base import MAX_INT, PATTERN_WORDS

M = TypeVar("M", bound=BaseModel)

# What a value of the wrong type must be instead, by pydantic's error type.
_KINDS = {
    "string_type": "a string", "int_type": "an integer", "int_from_float": "an integer",
    "bool_type": "true or false", "dict_type": "an object", "model_type": "an object",
    "model_attributes_type": "an object", "list_type": "an array", "literal_error": None,
}


def field_name(loc: tuple[str | int, ...]) -> str:
    """('prompts', 0, 'git', 'commit') as prompts[0].git.commit; a long key cut at 40."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            shown = part if len(part) <= 40 else part[:40] + "…"
            name += f".{shown}" if name else shown
    return name


def _problem(error: ErrorDetails) -> str:
    """What is wrong, as the end of a sentence that starts with the field's name."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    # A null where the field takes none (a field that may be left out is not null).
    not_null = ", not null" if error["input"] is None else ""
    if kind == "literal_error":
        return f"must be {ctx['expected']}{not_null}"
    if kind in _KINDS:
        return f"must be {_KINDS[kind]}{not_null}"
    if kind == "string_too_short":
        low = ctx["min_length"]
        return "must not be empty" if low == 1 else f"must be at least {low} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']:,} characters"
    if kind == "too_short":
        low = ctx["min_length"]
        return "must not be empty" if low == 1 else f"must hold at least {low} items"
    if kind == "too_long":
        return f"must hold at most {ctx['max_length']:,} items"
    if kind == "greater_than_equal":
        return "is out of range" if ctx["ge"] < -MAX_INT else f"must be {ctx['ge']} or more"
    if kind == "less_than_equal":
        return "is out of range" if ctx["le"] >= MAX_INT else f"must be at most {ctx['le']}"
    if kind == "string_pattern_mismatch":
        pattern = ctx["pattern"]
        return f"must be {PATTERN_WORDS.get(pattern, f'text matching {pattern}')}"
    return f"is not valid: {error['msg']}"


def refusal(exc: ValidationError, preface: str = "") -> HttpError:
    """The 400 for the first error of a validation, its sentence after ``preface``."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        # An unknown key: named alone at the top level, else the object that holds it.
        *parent, key = loc
        shown = field_name((key,))
        if not parent:
            return HttpError(400, f"{preface}Unknown field '{shown}'.", field=shown)
        holder = field_name(tuple(parent))
        return HttpError(400, f"{preface}'{holder}' has no field '{shown}'.", field=holder)
    if not loc:
        return HttpError(400, f"{preface}The request body {_problem(error)}.")
    name = field_name(loc)
    return HttpError(400, f"{preface}'{name}' {_problem(error)}.", field=name)


def misspelt(shape: BaseModel, data: Any, loc: tuple[str | int, ...] = ()) -> HttpError | None:
    """The 400 for a key the shape does not know but nearly names (expected_verison): ignored,
    it would drop what the caller asked for (a compare-and-set skipped, a reason lost). Keys
    unlike any field stay ignored, so a client that sends more than the API knows still works."""
    if not isinstance(data, dict) or shape.model_config.get("extra") == "allow":
        return None
    fields = type(shape).model_fields
    for key in data:
        if key not in fields and (near := difflib.get_close_matches(key, fields, 1, 0.75)):
            name = field_name((*loc, key))
            return HttpError(400, f"Unknown field '{name}': did you mean '{near[0]}'?",
                             field=name)
    for name in fields:  # nested objects (a push's git); list items are judged one by one
        value = getattr(shape, name)
        if isinstance(value, BaseModel) and (found := misspelt(value, data.get(name),
                                                                 (*loc, name))):
            return found
    return None


def validated(model: type[M], data: Any, preface: str = "") -> M:
    """data as an instance of model, or the 400 naming the first wrong field (its sentence
    after ``preface``, e.g. what the body was meant to be)."""
    try:
        shape = model.model_validate(data)
    except ValidationError as exc:
        raise refusal(exc, preface) from None
    if (near_miss := misspelt(shape, data)) is not None:
        near_miss.detail = preface + near_miss.detail
        raise near_miss
    return shape
