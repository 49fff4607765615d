"""A prompt's output_schema: a JSON Schema (Draft 2020-12) for the answer it asks a model for,
checked with the jsonschema library when a file declares one, and used to check an answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promptsync.errors import OutputInvalid
from promptsync.format.safeyaml import BOOL, INVALID, YamlReader, kind

OutputSchema = dict[str, Any] | bool


def schema_problem(schema: OutputSchema) -> tuple[str, list[str | int]] | None:
    """Why a value is not a valid Draft 2020-12 schema, and where in it; None when it is."""
    # Imported here: jsonschema costs ~0.1 s at start-up, paid only by files that declare one.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message, list(exc.absolute_path)
    return None


def check_output(schema: OutputSchema, value: object) -> object:
    """The answer as a JSON value when it fits ``schema``; OutputInvalid naming every problem.
    Text (a model's raw answer) is read as JSON first."""
    if isinstance(value, bytes | str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise OutputInvalid([f"the answer is not JSON: {exc}"]) from None
    problems = output_problems(schema, value)
    if problems:
        raise OutputInvalid(problems)
    return value


def output_problems(schema: OutputSchema, value: object) -> list[str]:
    """Every way ``value`` breaks ``schema``, each as 'at <path>: <why>' (empty when it fits)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
        where = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.path)
        problems.append(f"at {where or 'the top'}: {error.message}")
    return problems


def _node_at(node: Node, path: Sequence[str | int], reader: YamlReader) -> Node:
    """The YAML node a path into the schema names (as deep as it can be followed)."""
    for step in path:
        if isinstance(node, MappingNode) and isinstance(step, str):
            found = [value for key, _, value in reader.pairs(node, "") if key == step]
            if not found:
                break
            node = found[0]
        elif isinstance(node, SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            break
    return node


class OutputSchemaReader(YamlReader):
    """Reads output_schema; PromptChecker is one."""

    def output_schema(self, node: Node | None) -> OutputSchema | None:
        """The schema when it is valid JSON Schema; reported at its line otherwise."""
        if node is None or node.tag == INVALID:
            return None
        if not isinstance(node, MappingNode) and not (
                isinstance(node, ScalarNode) and node.tag == BOOL):
            self.report(f"output_schema must be a JSON Schema (a mapping such as "
                        f"{{type: object, properties: ...}}), not {kind(node)}", node)
            return None
        schema = self.json(node, "output_schema")
        problem = schema_problem(schema)
        if problem is not None:
            message, path = problem
            where = "".join(f"/{step}" for step in path)
            probe = YamlReader(self.text)  # reading pairs again must not repeat their problems
            probe.loader = self.loader
            self.report(f"output_schema is not a valid JSON Schema (Draft 2020-12)"
                        f"{f' at {where}' if where else ''}: {message}",
                        _node_at(node, path, probe))
            return None
        return schema
