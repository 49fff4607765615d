"""What a prompt file holds: its keys and their types, checked on the YAML nodes with marks."""

from __future__ import annotations

import difflib
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promptsync.errors import Problem
from promptsync.format.outschema import OutputSchemaReader
from promptsync.format.safeyaml import INVALID, NULL, STR, kind
from promptsync.format.source import MAX_PROBLEMS, position
from promptsync.format.templates import (
    INCLUDE_INNER_RE,
    INCLUDE_RE,
    placeholder,
    template_syntax,
)
from promptsync.format.variables import NAME_RE, Variables, VariablesReader

ROLES = ("system", "user", "assistant", "tool")
TOP_LEVEL_KEYS = (
    "description", "model", "params", "variables", "template", "messages", "tags", "metadata",
    "output_schema",
)
# Common model settings people put at the top level by mistake: they belong under params.
_MODEL_SETTINGS = frozenset({
    "temperature", "max_tokens", "top_p", "top_k", "stop", "seed", "presence_penalty",
    "frequency_penalty", "response_format", "max_output_tokens",
})
MESSAGE_KEYS = ("role", "content")

# Where a placeholder is used: the scalar, its text, the offset in that text, the snippet.
_Use = tuple[ScalarNode, str, int, str]


class PromptChecker(VariablesReader, OutputSchemaReader):
    """Walks the node tree of one file, collecting a Prompt's fields and every problem."""

    def run(self) -> dict[str, Any] | None:
        """The keyword arguments of a valid Prompt; None when there are problems."""
        root = self.compose()
        if root is None or (root.tag == NULL and root.value in ("", "~", "null")):
            self.problems.append(Problem("the file is empty; a prompt needs a template or messages",
                                         1, 1))
            return None
        if root.tag == INVALID:
            return None
        if not isinstance(root, MappingNode):
            self.report(f"the top level must be a mapping of keys such as template, not "
                        f"{kind(root)}", root)
            return None
        return self.prompt_fields(root)

    def prompt_fields(self, root: MappingNode) -> dict[str, Any] | None:
        fields: dict[str, tuple[ScalarNode, Node]] = {}
        for key, key_node, value_node in self.pairs(root, "top level"):
            if key in TOP_LEVEL_KEYS:
                fields[key] = (key_node, value_node)
                continue
            if len(self.problems) >= MAX_PROBLEMS:  # difflib is slow on thousands of keys
                continue
            close = difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1)
            if key in _MODEL_SETTINGS:
                hint = "model settings go under params; "
            else:
                hint = f"did you mean '{close[0]}'? " if close else ""
            self.report(f"unknown key '{key}' ({hint}allowed: {', '.join(TOP_LEVEL_KEYS)})",
                        key_node)

        def value(key: str) -> Node | None:
            return fields[key][1] if key in fields else None

        texts: list[tuple[ScalarNode, str]] = []  # every template text with its node
        template = messages = None
        problems_before = len(self.problems)
        if "template" in fields and "messages" in fields:
            later = max(fields["template"][0], fields["messages"][0],
                        key=lambda n: n.start_mark.index)
            self.report("a prompt has either template or messages, not both", later)
        elif "template" in fields:
            template = self.template(fields["template"][1], texts)
        elif "messages" in fields:
            messages = self.messages(fields["messages"][1], texts)
        else:
            self.report("a prompt needs either template (text) or messages (chat)", root)
        # A broken template or message hides its placeholders: "unused" would be noise then.
        texts_complete = len(self.problems) == problems_before

        description = model = None
        if (node := value("description")) is not None:
            description = self.string(node, "description")
        if (node := value("model")) is not None:
            model = self.string(node, "model")
        params = self.json_mapping(value("params"), "params")
        metadata = self.json_mapping(value("metadata"), "metadata")
        tags = self.tags(value("tags"))
        variables = self.variables(value("variables"))
        output_schema = self.output_schema(value("output_schema"))
        placeholders = self.placeholders(texts)
        # A variable the prompt declares may be used only by a partial it includes (to give it
        # a default of its own): "declared but not used" cannot be judged from this file alone.
        includes = any(m.group(1) for _, text in texts if "{{>" in text
                       for m in INCLUDE_RE.finditer(text))
        if "variables" in fields and variables is not None:
            self.match_variables(variables, placeholders, texts_complete and not includes,
                                 "template" if "template" in fields else "messages")
        if self.problems:
            return None
        return {
            "type": "text" if template is not None else "chat",
            "template": template,
            "messages": messages,
            "model": model,
            "params": params,
            "variables": {name: spec for name, (spec, _) in (variables or {}).items()},
            "description": description,
            "tags": tags,
            "metadata": metadata,
            "output_schema": output_schema,
        }

    def template(self, node: Node, texts: list[tuple[ScalarNode, str]]) -> str | None:
        text = self.string(node, "template")
        if text is None or not text.strip():
            if node.tag in (STR, NULL):
                self.report("template is empty", node)
            return None
        assert isinstance(node, ScalarNode)
        texts.append((node, text))
        return text

    def messages(
        self, node: Node, texts: list[tuple[ScalarNode, str]]
    ) -> list[dict[str, str]] | None:
        if node.tag == INVALID:
            return None
        if not isinstance(node, SequenceNode):
            self.report(f"messages must be a list of {{role, content}} mappings, not "
                        f"{kind(node)}", node)
            return None
        if not node.value:
            self.report("messages is empty; add at least one {role, content} message", node)
            return None
        out = []
        for number, item in enumerate(node.value, 1):
            where = f"message {number}"
            if item.tag == INVALID:
                continue
            if not isinstance(item, MappingNode):
                self.report(f"{where} must be a mapping with role and content, not {kind(item)}",
                            item)
                continue
            message: dict[str, str] = {}
            pairs = self.pairs(item, where)
            for key, key_node, value_node in pairs:
                if key not in MESSAGE_KEYS:
                    self.report(f"{where}: unknown key '{key}' (allowed: role, content)", key_node)
                    continue
                text = self.string(value_node, f"{where}: {key}", allow_null=False)
                if text is None:
                    continue
                if key == "role" and text not in ROLES:
                    self.report(f"{where}: role '{text}' is not one of {', '.join(ROLES)}",
                                value_node)
                    continue
                if key == "content":
                    assert isinstance(value_node, ScalarNode)
                    texts.append((value_node, text))
                message[key] = text
            present = {key for key, _, _ in pairs}
            for required in MESSAGE_KEYS:
                if required not in present:
                    self.report(f"{where} has no {required}", item)
            out.append(message)
        return out

    def json_mapping(self, node: Node | None, where: str) -> dict[str, Any]:
        if node is None or (mapping := self.mapping(node, where)) is None:
            return {}
        result = self.json(mapping, where)
        assert isinstance(result, dict)
        return result

    def tags(self, node: Node | None) -> list[str]:
        if node is None or node.tag in (NULL, INVALID):
            return []
        if not isinstance(node, SequenceNode):
            self.report(f"tags must be a list of strings, not {kind(node)}", node)
            return []
        tags = []
        for number, item in enumerate(node.value, 1):
            tag = self.string(item, f"tag {number}", allow_null=False)
            if tag is not None:
                tags.append(tag)
        return tags

    def placeholders(self, texts: list[tuple[ScalarNode, str]]) -> dict[str, _Use]:
        """Placeholder name -> its first use; reports malformed template syntax."""
        found: dict[str, _Use] = {}
        for node, text in texts:
            for offset, snippet, inner in template_syntax(text):
                if len(self.problems) >= MAX_PROBLEMS:
                    break
                # Snippets are quoted as written, so the reported text can be searched for.
                if snippet.startswith("{%"):
                    message = (f"template logic '{snippet}' is not supported; "
                               f"only {placeholder('name')}")
                elif inner is None:
                    message = ("'{{' is not closed by '}}' on the same line "
                               "(write a literal '{{' as '\\{{')")
                elif NAME_RE.fullmatch(inner.strip(" \t")):
                    # Located only if it turns out to be a problem: locating costs a scan.
                    found.setdefault(inner.strip(" \t"), (node, text, offset, snippet))
                    continue
                elif INCLUDE_INNER_RE.fullmatch(inner):
                    continue  # a partial: partials.py resolves it, lint where it can
                else:
                    message = (f"malformed placeholder '{snippet}'; a placeholder is "
                               f"{placeholder('name')} with a name of ASCII letters, digits and _ "
                               "(write a literal '{{' as '\\{{')")
                self.report_at(message, (node, text, offset, snippet))
        return found

    def report_at(self, message: str, use: _Use) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(message, *self.locate(*use)))

    def locate(self, node: ScalarNode, text: str, offset: int, snippet: str) -> tuple[int, int]:
        """Line and column of text[offset:] in the source: found in the scalar's own span."""
        occurrence = text.count(snippet, 0, offset)  # non-overlapping, like the search below
        start, end = node.start_mark.index, node.end_mark.index
        index = start - len(snippet)
        for _ in range(occurrence + 1):
            index = self.text.find(snippet, index + len(snippet), end)
            if index < 0:  # escapes or folding changed the text: point at the scalar
                return node.start_mark.line + 1, node.start_mark.column + 1
        return position(self.text, index)

    def match_variables(
        self,
        variables: Variables,
        placeholders: dict[str, _Use],
        texts_complete: bool,
        used_in: str,
    ) -> None:
        for name, use in placeholders.items():
            if name not in variables:
                self.report_at(f"placeholder '{use[3]}' is not declared under variables", use)
        for name, (_, key_node) in variables.items():
            if texts_complete and name not in placeholders:
                self.report(f"variable '{name}' is declared but not used in the {used_in}",
                            key_node)
