"""The variables block of a prompt file: each variable's description, default, required flag,
type and enum, checked on the YAML nodes so every problem has its line."""

from __future__ import annotations

import re
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promptsync.format.contract import TYPES, in_enum, value_problem
from promptsync.format.safeyaml import BOOL, INVALID, NULL, STR, YamlReader, kind

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VARIABLE_KEYS = ("description", "default", "required", "type", "enum")

# name -> (normalised spec, the name's key node)
Variables = dict[str, tuple[dict[str, Any], ScalarNode]]


class VariablesReader(YamlReader):
    """Reads the variables mapping; PromptChecker is one."""

    def variables(self, node: Node | None) -> Variables | None:
        """name -> (normalised spec, key node); None when absent or not a mapping."""
        if node is None:
            return None
        if node.tag == NULL:
            return {}  # "variables:" with nothing under it declares no variables
        mapping = self.mapping(node, "variables")
        if mapping is None:
            return None
        out: Variables = {}
        for name, key_node, spec_node in self.pairs(mapping, "variables"):
            if not NAME_RE.fullmatch(name):
                self.report(f"variable name '{name}' is not valid (ASCII letters, digits and "
                            "_, not starting with a digit)", key_node)
                continue
            if spec_node.tag == INVALID:
                continue
            spec = self.variable(name, key_node, spec_node)
            if spec is not None:
                out[name] = (spec, key_node)
        return out

    def variable(self, name: str, key_node: ScalarNode, node: Node) -> dict[str, Any] | None:
        """One variable's spec: description, default, required, and type and enum if given."""
        spec: dict[str, Any] = {"description": None, "default": None, "required": None}
        where = f"variable '{name}'"
        nodes: dict[str, Node] = {}
        if isinstance(node, MappingNode):
            for key, sub_key, sub in self.pairs(node, where):
                if key not in VARIABLE_KEYS:
                    self.report(f"{where}: unknown key '{key}' (allowed: "
                                f"{', '.join(VARIABLE_KEYS)})", sub_key)
                    continue
                nodes[key] = sub
        elif node.tag != NULL:
            self.report(f"{where} must be a mapping of description, default and required "
                        f"(and type and enum), or empty, not {kind(node)}", node)
            return None
        if "description" in nodes:
            spec["description"] = self.string(nodes["description"], f"{where}: description")
        if "required" in nodes:
            sub = nodes["required"]
            if isinstance(sub, ScalarNode) and sub.tag == BOOL:
                spec["required"] = self.scalar(sub)
            elif sub.tag != INVALID:
                self.report(f"{where}: required must be true or false, not {kind(sub)}", sub)
        type_ = self.type_of(nodes.get("type"), where)
        if type_ is not None:
            spec["type"] = type_
        if "enum" in nodes:
            enum = self.enum(nodes["enum"], where, type_)
            if enum is not None:
                spec["enum"] = enum
        if "default" in nodes:
            spec["default"] = self.default(nodes["default"], where, spec)
        if spec["required"] and spec["default"] is not None:
            self.report(f"{where} is required and has a default; drop one of them", key_node)
        if spec["required"] is None:
            spec["required"] = spec["default"] is None
        return spec

    def type_of(self, node: Node | None, where: str) -> str | None:
        if node is None:
            return None
        if isinstance(node, ScalarNode) and node.tag == STR and node.value in TYPES:
            return node.value
        if node.tag != INVALID:
            shown = node.value if isinstance(node, ScalarNode) else kind(node)
            self.report(f"{where}: type '{shown}' is not one of {', '.join(TYPES)}", node)
        return None

    def enum(self, node: Node, where: str, type_: str | None) -> list[Any] | None:
        if node.tag == INVALID:
            return None
        if not isinstance(node, SequenceNode) or not node.value:
            found = "an empty list" if isinstance(node, SequenceNode) else kind(node)
            self.report(f"{where}: enum must be a non-empty list of allowed values, not "
                        f"{found}", node)
            return None
        values: list[Any] = []
        for item in node.value:
            value = self.json(item, f"{where}: enum")
            problem = value_problem(value, {"type": type_} if type_ else {})
            if problem is not None:
                self.report(f"{where}: each enum value {problem}", item)
                continue
            if in_enum(value, values):
                self.report(f"{where}: enum lists {item.value!r} twice", item)
                continue
            values.append(value)
        return values

    def default(self, node: Node, where: str, spec: dict[str, Any]) -> Any:
        """The default, checked against the type and enum declared beside it."""
        if node.tag == INVALID:
            return None
        type_ = spec.get("type")
        if not isinstance(node, ScalarNode) and type_ not in ("array", "object"):
            self.report(f"{where}: default must be a single value (text, number or "
                        f"true/false), not {kind(node)}", node)
            return None
        value = self.json(node, f"{where}: default")
        if value is None:
            return None
        if type_ is not None or "enum" in spec:
            problem = value_problem(value, spec)
            if problem is not None:
                self.report(f"{where}: default {problem}", node)
                return None
        return value

