"""Read one YAML document safely into nodes and JSON values, reporting problems with marks.

Safe-load semantics and more: only the JSON tags, no aliases, anchors or merge keys (so no
"billion laughs"), bounded depth, one document, text keys only and no duplicate keys.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeAlias

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promptsync.errors import Problem
from promptsync.format.source import MAX_PROBLEMS

LoaderClass: TypeAlias = type[yaml.SafeLoader] | type[yaml.CSafeLoader]
# The safe loader whose events we compose; libyaml's is several times faster, marks are the same.
LOADER: LoaderClass = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 50
_YAML = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _YAML + "seq", _YAML + "map"
_SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL})
# Marks a node already reported (alias, bad tag, too deep) so checks skip it without a second error.
INVALID = "promptsync:invalid"
# Implicit tag of plain scalars by text; the resolver's answer depends on the text alone.
_RESOLVED: dict[str, str] = {}
_UNSTORABLE_RE = re.compile("[\0\ud800-\udfff]")


def kind(node: Node) -> str:
    """How to name what was found, for messages: 'a list', 'a number', ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL:
        return "empty (null)"
    if node.tag == BOOL:
        return "true/false"
    if node.tag in (INT, FLOAT):
        return "a number"
    return "a string"


class YamlReader:
    """Composes one document into nodes and reads values from them, collecting every problem."""

    def __init__(self, text: str, loader_class: LoaderClass = LOADER):
        self.text = text
        self.loader_class = loader_class
        self.problems: list[Problem] = []
        self.loader: Any = None

    def report(self, message: str, node: Node | None) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            return
        if node is None:
            self.problems.append(Problem(message))
        else:
            mark = node.start_mark
            self.problems.append(Problem(message, mark.line + 1, mark.column + 1))

    def compose(self) -> Node | None:
        """The document's root node (None for an empty stream); an INVALID node if unreadable."""
        loader = self.loader = self.loader_class(self.text)
        try:
            return _Composer(loader, self.problems).compose_single()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            detail = exc.problem or "syntax error"
            if exc.context:
                detail = f"{detail} ({exc.context})"
            line = mark.line + 1 if mark else None
            column = mark.column + 1 if mark else None
            self.problems.append(Problem(f"invalid YAML: {detail}", line, column))
        except yaml.YAMLError as exc:  # reader errors carry no mark
            self.problems.append(Problem(f"invalid YAML: {exc}"))
        finally:
            loader.dispose()
        return ScalarNode(INVALID, "")

    def scalar(self, node: ScalarNode) -> Any:
        """The Python value of a scalar node (str, int, float, bool or None)."""
        tag = node.tag
        if tag == STR:
            # Escapes can smuggle in what no database text column or UTF-8 encoder accepts.
            bad = _UNSTORABLE_RE.search(node.value)
            if bad and bad.group() == "\0":
                self.report("text contains a NUL character (\\0), which cannot be stored", node)
            elif bad:
                self.report(f"invalid Unicode character (lone surrogate U+{ord(bad.group()):04X})",
                            node)
            return node.value
        if tag == NULL:
            return None
        try:
            if tag == BOOL:
                return self.loader.construct_yaml_bool(node)
            if tag == INT:
                return self.loader.construct_yaml_int(node)
            value = self.loader.construct_yaml_float(node)
        except (ValueError, KeyError, IndexError):
            self.report(f"{node.value!r} is not a valid {tag.replace(_YAML, '!!')}", node)
            return None
        if not math.isfinite(value):
            self.report(f"{node.value!r} is not a JSON number (no NaN or infinity)", node)
            return None
        return value

    def pairs(self, node: MappingNode, where: str) -> list[tuple[str, ScalarNode, Node]]:
        """String-keyed pairs of a mapping; reports non-string, complex and duplicate keys."""
        seen: dict[str, ScalarNode] = {}
        out = []
        for key_node, value_node in node.value:
            if key_node.tag == INVALID:
                continue
            if not isinstance(key_node, ScalarNode):
                self.report(f"{where}: a key must be a plain name, not {kind(key_node)}",
                            key_node)
                continue
            key = self.scalar(key_node)
            if not isinstance(key, str):
                self.report(f"{where}: key {key_node.value!r} is read as {kind(key_node)}, "
                            "not text; quote it", key_node)
                continue
            if key in seen:
                self.report(f"duplicate key '{key}' (first defined on line "
                            f"{seen[key].start_mark.line + 1})", key_node)
                continue
            seen[key] = key_node
            out.append((key, key_node, value_node))
        return out

    def json(self, node: Node, where: str) -> Any:
        """A JSON value (dict, list, str, number, bool, None) from any node."""
        if isinstance(node, ScalarNode):
            return None if node.tag == INVALID else self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.json(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        return {
            key: self.json(value, f"{where}.{key}") for key, _, value in self.pairs(node, where)
        }

    def string(self, node: Node, where: str, allow_null: bool = True) -> str | None:
        """A string field (None when null and allowed); reports the wrong type."""
        if node.tag == INVALID:
            return None
        if isinstance(node, ScalarNode) and node.tag == STR:
            return str(self.scalar(node))
        if allow_null and node.tag == NULL:
            return None
        hint = ""
        if isinstance(node, MappingNode) and self.text.startswith("{{", node.start_mark.index):
            hint = " (quote text that starts with '{{')"
        self.report(f"{where} must be a string, not {kind(node)}{hint}", node)
        return None

    def mapping(self, node: Node, where: str) -> MappingNode | None:
        """The node if it is a mapping; None (silently) when null; reports other types."""
        if isinstance(node, MappingNode):
            return node
        if node.tag not in (NULL, INVALID):
            self.report(f"{where} must be a mapping, not {kind(node)}", node)
        return None


def _tag_message(tag: str) -> str:
    short = "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag
    return (f"YAML tag '{short}' is not allowed (only !!str, !!int, !!float, !!bool, !!null, "
            "!!seq and !!map)")


class _Composer:
    """Composes a safe loader's events into one document: no aliases, safe tags, bounded depth."""

    def __init__(self, loader: Any, problems: list[Problem]):
        self.loader = loader
        self.problems = problems
        self.aliases_seen: set[str] = set()
        # Any: the stubs type C and pure-Python marks as different classes; both have line/column.
        self.events: list[Any] = []
        self.pos = 0

    def report(self, message: str, mark: Any) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(message, mark.line + 1, mark.column + 1))

    def compose_single(self) -> Node | None:
        """Compose the only document (None for an empty stream); report a second one."""
        loader = self.loader
        loader.get_event()  # StreamStartEvent
        if loader.check_event(StreamEndEvent):
            return None
        # Pull the first document's events in one go: much cheaper than check_event per node.
        get_event, events = loader.get_event, self.events
        event = get_event()  # DocumentStartEvent
        while type(event) is not DocumentEndEvent:
            events.append(event)
            event = get_event()
        self.pos = 1
        node = self._compose(0, is_key=False)
        if not loader.check_event(StreamEndEvent):
            second: Any = loader.peek_event()
            self.report(
                "the file holds more than one YAML document ('---'); a prompt file holds one",
                second.start_mark,
            )
        return node

    def _compose(self, depth: int, is_key: bool) -> Node:
        event = self.events[self.pos]
        self.pos += 1
        cls = type(event)
        start, end = event.start_mark, event.end_mark
        if cls is AliasEvent:
            # Rejecting aliases outright rules out alias bombs ("billion laughs") and merge tricks;
            # one report per name keeps a bomb's hundreds of aliases from drowning the rest.
            if event.anchor not in self.aliases_seen:
                self.aliases_seen.add(event.anchor)
                self.report(f"YAML aliases (*{event.anchor}) are not allowed; write the value out",
                            start)
            return ScalarNode(INVALID, "", start, end)
        if event.anchor is not None:
            self.report(f"YAML anchors (&{event.anchor}) are not allowed; write the value out",
                        start)
        if cls is ScalarEvent:
            return ScalarNode(self._scalar_tag(event, is_key), event.value, start, end, event.style)
        is_seq = cls is SequenceStartEvent
        tag = _SEQ if is_seq else _MAP
        if event.tag not in (None, "!", tag):
            self.report(_tag_message(event.tag), start)
            tag = INVALID
        if depth >= MAX_DEPTH:
            self.report(f"values are nested more than {MAX_DEPTH} levels deep", start)
            tag = INVALID
        if tag == INVALID:
            return ScalarNode(INVALID, "", start, self._skip_collection())
        events = self.events
        if is_seq:
            items = []
            while type(events[self.pos]) is not SequenceEndEvent:
                items.append(self._compose(depth + 1, is_key=False))
            self.pos += 1
            return SequenceNode(tag, items, start, events[self.pos - 1].end_mark, event.flow_style)
        pairs = []
        while type(events[self.pos]) is not MappingEndEvent:
            key = self._compose(depth + 1, is_key=True)
            pairs.append((key, self._compose(depth + 1, is_key=False)))
        self.pos += 1
        return MappingNode(tag, pairs, start, events[self.pos - 1].end_mark, event.flow_style)

    def _skip_collection(self) -> Any:
        """Skip to the end of the collection just opened; return its end mark."""
        level = 1
        while level:
            cls = type(self.events[self.pos])
            self.pos += 1
            if cls is SequenceStartEvent or cls is MappingStartEvent:
                level += 1
            elif cls is SequenceEndEvent or cls is MappingEndEvent:
                level -= 1
        return self.events[self.pos - 1].end_mark

    def _scalar_tag(self, event: Any, is_key: bool) -> str:
        tag: str | None = event.tag
        if tag is not None and tag != "!":
            if tag in _SCALAR_TAGS:
                return tag
            self.report(_tag_message(tag), event.start_mark)
            return INVALID
        if not event.implicit[0]:  # quoted or block scalars are always text
            return STR
        value = event.value
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = self.loader.resolve(ScalarNode, value, event.implicit)
            if len(_RESOLVED) < 4096 and len(value) < 64:  # keys and short values repeat a lot
                _RESOLVED[value] = tag
        if tag == _YAML + "merge" and is_key:
            self.report("YAML merge keys (<<) are not allowed; write the keys out",
                        event.start_mark)
            return INVALID
        # Dates and the like stay text: JSON has no timestamps and a date in metadata is text.
        return tag if tag in _SCALAR_TAGS else STR
