"""The component schemas of /openapi.json, written from the declared shapes (webapi/shapes/):
the same classes that validate the request bodies."""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from webapi.shapes import answers, prompt_answers
from webapi.shapes.base import Answer
from webapi.shapes.bodies import BODIES

REF = "#/components/schemas/{model}"


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    """A reference to a component schema."""
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": REF.format(model=name)}


class _Writer(GenerateJsonSchema):
    """pydantic's JSON Schema 2020-12, without a title on every property."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _answers(module: ModuleType) -> list[type[Answer]]:
    return [value for value in vars(module).values() if isinstance(value, type)
            and issubclass(value, Answer) and value is not Answer]


def _tidy(node: Any) -> None:
    """Drop `"default": null` of a field that may be left out: absence is what it says."""
    if isinstance(node, dict):
        if node.get("default", 0) is None:
            del node["default"]
        for value in node.values():
            _tidy(value)
    elif isinstance(node, list):
        for value in node:
            _tidy(value)


@functools.cache
def component_schemas() -> dict[str, Any]:
    """Every body and answer, by class name (read-only)."""
    models = [*BODIES, *_answers(answers), *_answers(prompt_answers)]
    _, document = models_json_schema([(model, "validation") for model in models],
                                     ref_template=REF, schema_generator=_Writer)
    schemas: dict[str, Any] = document["$defs"]
    _tidy(schemas)
    return schemas
