"""pydantic v2 against marshmallow (+apispec) for the API's declared shapes: the same push body
declared in each, validated strictly; a 500-item batch; import time; installed size.

A library that is not installed is skipped with a note (marshmallow and apispec are not
dependencies: `pip install marshmallow apispec` to compare).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
import timeit
from collections.abc import Callable
from typing import Any

from .common import Options, Table, log

SOURCE = "variables:\n  topic: {required: true}\ntemplate: Thanks for asking about {{ topic }}.\n"
PUSH = {"source": SOURCE, "message": "Ask about the topic", "parent_version": 2,
        "git": {"commit": "5d41402abc4b2a76b9719d911017c592a1b2c3d4", "branch": "main",
                "dirty": False, "path": "prompts/support/topic.yaml"}}
BATCH = {"prompts": [{"slug": f"support/p{i}", **PUSH} for i in range(500)]}
DISTRIBUTIONS = {"pydantic": ("pydantic", "pydantic-core", "annotated-types",
                              "typing-inspection"),
                 "marshmallow": ("marshmallow", "apispec")}


def _pydantic() -> tuple[Callable[[], Any], Callable[[], Any]]:
    from typing import Annotated

    from pydantic import BaseModel, ConfigDict, Field

    class Git(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        commit: Annotated[str, Field(pattern=r"^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")] | None = None
        branch: Annotated[str, Field(min_length=1, max_length=255)] | None = None
        dirty: bool | None = None
        path: Annotated[str, Field(min_length=1, max_length=4096)] | None = None

    class Push(BaseModel):
        model_config = ConfigDict(strict=True)
        source: str
        message: Annotated[str, Field(max_length=10_000)] | None = None
        parent_version: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
        git: Git | None = None

    class Item(Push):
        slug: Annotated[str, Field(max_length=200)]

    class Batch(BaseModel):
        model_config = ConfigDict(strict=True)
        prompts: Annotated[list[Item], Field(max_length=500)]

    return (lambda: Push.model_validate(PUSH)), (lambda: Batch.model_validate(BATCH))


def _marshmallow() -> tuple[Callable[[], Any], Callable[[], Any]]:
    from marshmallow import RAISE, Schema, fields, validate

    class Git(Schema):
        class Meta:
            unknown = RAISE

        commit = fields.String(allow_none=True, validate=validate.Regexp(
            r"^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$"))
        branch = fields.String(allow_none=True, validate=validate.Length(1, 255))
        dirty = fields.Boolean(allow_none=True, truthy={True}, falsy={False})
        path = fields.String(allow_none=True, validate=validate.Length(1, 4096))

    class Push(Schema):
        source = fields.String(required=True)
        message = fields.String(allow_none=True, validate=validate.Length(max=10_000))
        parent_version = fields.Integer(strict=True, allow_none=True,
                                        validate=validate.Range(0, 2**31 - 1))
        git = fields.Nested(Git, allow_none=True)

    class Item(Push):
        slug = fields.String(required=True, validate=validate.Length(max=200))

    class Batch(Schema):
        prompts = fields.List(fields.Nested(Item), required=True,
                              validate=validate.Length(max=500))

    push, batch = Push(), Batch()
    return (lambda: push.load(PUSH)), (lambda: batch.load(BATCH))


def _import_ms(statement: str) -> float:
    """Milliseconds a fresh interpreter takes to run statement (best of 3)."""
    code = ("import time; t = time.perf_counter(); " + statement +
            "; print((time.perf_counter() - t) * 1000)")
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True, timeout=60).stdout) for _ in range(3))


def _installed_mb(names: tuple[str, ...]) -> float:
    total = 0
    for name in names:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            continue
        total += sum(f.locate().stat().st_size for f in files if f.locate().exists())
    return total / 1e6


def _per_call_us(call: Callable[[], Any], rounds: int) -> float:
    number = max(1, rounds)
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def run(opts: Options) -> list[Table]:
    table = Table("declared shapes: pydantic v2 vs marshmallow + apispec",
                  ["library", "push body µs", "500-item batch ms", "import ms",
                   "installed MB"])
    libraries = {
        "pydantic": (_pydantic, "import pydantic"),
        "marshmallow": (_marshmallow, "import marshmallow, apispec"),
    }
    for name, (declare, statement) in libraries.items():
        if importlib.util.find_spec(name) is None:
            table.notes.append(f"{name}: skipped, not installed")
            continue
        log(f"schema-libs: {name}")
        push, batch = declare()
        table.rows.append([
            name, f"{_per_call_us(push, 200 if opts.quick else 2000):.1f}",
            f"{_per_call_us(batch, 5 if opts.quick else 20) / 1000:.2f}",
            f"{_import_ms(statement):.0f}", f"{_installed_mb(DISTRIBUTIONS[name]):.1f}"])
    table.notes.append("strict validation (no \"1\" -> 1, bool is no integer); best of 5 "
                       "repeats; import time in a fresh interpreter, best of 3")
    table.notes.append("marshmallow needs apispec (and its marshmallow plugin) to write "
                       "OpenAPI, and a hand-made strict Boolean; pydantic emits JSON Schema "
                       "2020-12, which OpenAPI 3.1 (our document) uses as is")
    return [table]
