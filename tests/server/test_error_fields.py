"""Every field an error body can carry is declared on the Error shape, so /openapi.json
describes it (and the fuzz's conformance check holds the answers to it)."""

from __future__ import annotations

import ast
from pathlib import Path

import webapi
from webapi.shapes.answers import Error

SOURCE = Path(webapi.__file__).parent
BUILDERS = {"HttpError", "error_body", "error_response"}


def _extra_fields() -> dict[str, str]:
    """Each keyword passed to an error builder anywhere in webapi/, with one place it is."""
    found: dict[str, str] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            if name in BUILDERS:
                for keyword in node.keywords:
                    if keyword.arg is not None and keyword.arg != "code":
                        found.setdefault(keyword.arg, f"{path.relative_to(SOURCE)}:{node.lineno}")
    return found


def test_the_scan_finds_the_fields_we_know() -> None:
    # Guards the scan itself: were it to find nothing, the next test would pass vacuously.
    assert {"field", "problems", "dependents", "chain"} <= set(_extra_fields())


def test_every_error_field_is_declared() -> None:
    undeclared = {name: where for name, where in _extra_fields().items()
                  if name not in Error.model_fields}
    assert undeclared == {}, f"declare these on webapi/shapes/answers.py Error: {undeclared}"
