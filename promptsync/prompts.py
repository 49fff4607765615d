"""Parse and validate one prompt file; the CLI and the server both use this, so both judge alike."""

from __future__ import annotations

import codecs
import copy
import difflib
import hashlib
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

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

from promptsync.errors import Problem, PromptFileError, RenderError

# The safe loader whose events we compose; libyaml's is several times faster, marks are the same.
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 50
MAX_PROBLEMS = 100
MAX_SLUG_SEGMENTS = 8
MAX_SLUG_LENGTH = 200
SLUG_SEGMENT_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ROLES = ("system", "user", "assistant", "tool")
TOP_LEVEL_KEYS = (
    "description", "model", "params", "variables", "template", "messages", "tags", "metadata",
)
# Common model settings people put at the top level by mistake: they belong under params.
_MODEL_SETTINGS = frozenset({
    "temperature", "max_tokens", "top_p", "top_k", "stop", "seed", "presence_penalty",
    "frequency_penalty", "response_format", "max_output_tokens",
})
VARIABLE_KEYS = ("description", "default", "required")
MESSAGE_KEYS = ("role", "content")
EXTENSIONS = (".yaml", ".yml")

_PLACEHOLDER_RE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
_SYNTAX_TOKEN_RE = re.compile(r"(?=(\{\{|\{%|\}\}|%\}|\n))")
# Characters YAML forbids in a stream (the complement of PyYAML's printable set).
_NON_PRINTABLE_RE = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_UNSTORABLE_RE = re.compile("[\0\ud800-\udfff]")
_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _YAML + "seq", _YAML + "map"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})
# Implicit tag of plain scalars by text; the resolver's answer depends on the text alone.
_RESOLVED: dict[str, str] = {}
# Marks a node already reported (alias, bad tag, too deep) so checks skip it without a second error.
_INVALID = "promptsync:invalid"


def slug_problem(slug: str) -> str | None:
    """Return None when the slug is valid, else one readable reason."""
    if not slug:
        return "the slug is empty"
    if len(slug) > MAX_SLUG_LENGTH:
        return f"the slug is {len(slug)} characters long; the limit is {MAX_SLUG_LENGTH}"
    segments = slug.split("/")
    if len(segments) > MAX_SLUG_SEGMENTS:
        return f"the slug has {len(segments)} path segments; the limit is {MAX_SLUG_SEGMENTS}"
    for segment in segments:
        if not segment:
            return f"the slug {slug!r} has an empty path segment"
        if not SLUG_SEGMENT_RE.fullmatch(segment):
            return (
                f"the path segment {segment!r} must start with a lowercase letter or digit "
                "and contain only a-z, 0-9, '.', '_' and '-'"
            )
    return None


def is_valid_slug(slug: str) -> bool:
    """Whether the slug follows the rules of SPEC §2."""
    return slug_problem(slug) is None


def slug_for_path(relpath: str) -> str:
    """Turn a path relative to the prompts directory into its slug, or raise PromptFileError."""
    path = relpath.replace(os.sep, "/")
    if os.altsep:
        path = path.replace(os.altsep, "/")
    parts = path.split("/")
    while len(parts) > 1 and parts[0] == ".":  # tolerate "./support/greeting.yaml"
        parts = parts[1:]
    name = parts[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot or "." + ext not in EXTENSIONS:
        reason = "a prompt file name must end in .yaml or .yml"
    elif path.startswith("/"):
        reason = "the path must be relative to the prompts directory"
    else:
        reason = slug_problem("/".join([*parts[:-1], stem])) or ""
    if reason:
        raise PromptFileError(relpath, [Problem(f"bad file name: {reason}")])
    return "/".join([*parts[:-1], stem])


def normalise_newlines(data: bytes) -> bytes:
    r"""Turn \r\n and lone \r into \n."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def source_sha256(data: bytes | str) -> str:
    """Hex SHA-256 of the source with line endings normalised: a version's identity."""
    if isinstance(data, str):
        # surrogatepass: hashing never fails, even for text the parser would reject
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.sha256(normalise_newlines(data)).hexdigest()


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Replace each {{ name }} in one pass, never re-expanding values; RenderError if missing."""
    missing = sorted({n for n in _PLACEHOLDER_RE.findall(text) if n not in values})
    if missing:
        raise RenderError(missing, [])
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)


@dataclass(frozen=True)
class Prompt:
    """A validated prompt: a text template or a list of chat messages, plus its settings."""

    type: str
    template: str | None = None
    messages: list[dict[str, str]] | None = None
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def _texts(self) -> list[str]:
        if self.template is not None:
            return [self.template]
        return [m.get("content", "") for m in self.messages or []]

    def placeholders(self) -> list[str]:
        """Sorted unique placeholder names used in the template or the messages."""
        return sorted({n for text in self._texts() for n in _PLACEHOLDER_RE.findall(text)})

    def render(
        self, variables: Mapping[str, object] | None = None, /, **kw: object
    ) -> str | list[dict[str, str]]:
        """Fill the placeholders strictly: unknown or missing required variables raise."""
        given: dict[str, object] = {**(variables or {}), **kw}
        # Without a variables block every placeholder is required and nothing else is allowed.
        declared = self.variables or {n: {"required": True} for n in self.placeholders()}
        unknown = sorted(set(given) - set(declared))
        values: dict[str, str] = {}
        missing = []
        for name, spec in declared.items():
            default = spec.get("default")
            if name in given:
                values[name] = str(given[name])
            elif default is not None:
                values[name] = str(default)
            elif spec.get("required", True):
                missing.append(name)
            else:
                values[name] = ""
        if missing or unknown:
            raise RenderError(sorted(missing), unknown)
        if self.template is not None:
            return render_template(self.template, values)
        return [
            {"role": m["role"], "content": render_template(m["content"], values)}
            for m in self.messages or []
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with both template and messages present (one of them None)."""
        return {
            "type": self.type,
            "template": self.template,
            "messages": copy.deepcopy(self.messages),
            "model": self.model,
            "params": copy.deepcopy(self.params),
            "variables": copy.deepcopy(self.variables),
            "description": self.description,
            "tags": list(self.tags),
            "metadata": copy.deepcopy(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prompt:
        """Rebuild a Prompt from to_dict() output or the API's version JSON (extra keys ignored)."""
        return cls(
            type=data.get("type") or ("chat" if data.get("messages") is not None else "text"),
            template=data.get("template"),
            messages=data.get("messages"),
            model=data.get("model"),
            params=dict(data.get("params") or {}),
            variables=dict(data.get("variables") or {}),
            description=data.get("description"),
            tags=list(data.get("tags") or []),
            metadata=dict(data.get("metadata") or {}),
        )


def parse_prompt(data: bytes | str, path: str = "<source>") -> Prompt:
    """Parse and validate one prompt file; raise PromptFileError listing every problem found."""
    text, problems = _decode(data)
    if text is None:
        raise PromptFileError(path, problems)
    checker = _Checker(text)
    prompt = checker.run()
    if checker.problems or prompt is None:
        # Stable sort: reading order, problems without a line first.
        checker.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise PromptFileError(path, checker.problems)
    return prompt


# --- bytes to text -----------------------------------------------------------------------------


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _decode(data: bytes | str) -> tuple[str | None, list[Problem]]:
    """Check size and encoding and normalise newlines; text None means stop here."""
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            return None, [Problem(_BOM_MESSAGE, 1, 1)]
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            line, col = _position(data, exc.start)
            return None, [Problem("the text is not valid Unicode (a lone surrogate)", line, col)]
    else:
        raw = data
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Problem(f"the file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES} bytes (256 KiB)")
        ]
    if raw.startswith(codecs.BOM_UTF8):
        return None, [Problem(_BOM_MESSAGE, 1, 1)]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, [Problem("the file is UTF-16 encoded; save it as UTF-8", 1, 1)]
    if isinstance(data, str):
        text = data.replace("\r\n", "\n").replace("\r", "\n")
    else:
        raw = normalise_newlines(raw)  # first, so that a bad byte's line counts lone \r too
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            line_start = raw.rfind(b"\n", 0, exc.start) + 1
            col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
            byte = raw[exc.start]
            return None, [Problem(f"the file is not UTF-8 (invalid byte 0x{byte:02x})", line, col)]
    problems = []
    for match in _NON_PRINTABLE_RE.finditer(text):
        line, col = _position(text, match.start())
        char = match.group()
        if char == "\0":
            problems.append(Problem("NUL byte in the file; a prompt file must be text", line, col))
        else:
            problems.append(Problem(
                f"control character U+{ord(char):04X} is not allowed in YAML; "
                "write it as an escape in a double-quoted string", line, col))
        if len(problems) >= MAX_PROBLEMS:
            break
    return (None if problems else text), problems


_BOM_MESSAGE = "the file starts with a byte order mark (BOM); save it as UTF-8 without BOM"


# --- YAML to nodes -----------------------------------------------------------------------------


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
            return ScalarNode(_INVALID, "", start, end)
        if event.anchor is not None:
            self.report(f"YAML anchors (&{event.anchor}) are not allowed; write the value out",
                        start)
        if cls is ScalarEvent:
            return ScalarNode(self._scalar_tag(event, is_key), event.value, start, end, event.style)
        is_seq = cls is SequenceStartEvent
        tag = _SEQ if is_seq else _MAP
        if event.tag not in (None, "!", tag):
            self.report(_tag_message(event.tag), start)
            tag = _INVALID
        if depth >= MAX_DEPTH:
            self.report(f"values are nested more than {MAX_DEPTH} levels deep", start)
            tag = _INVALID
        if tag == _INVALID:
            return ScalarNode(_INVALID, "", start, self._skip_collection())
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
            return _INVALID
        if not event.implicit[0]:  # quoted or block scalars are always text
            return _STR
        value = event.value
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = self.loader.resolve(ScalarNode, value, event.implicit)
            if len(_RESOLVED) < 4096 and len(value) < 64:  # keys and short values repeat a lot
                _RESOLVED[value] = tag
        if tag == _YAML + "merge" and is_key:
            self.report("YAML merge keys (<<) are not allowed; write the keys out",
                        event.start_mark)
            return _INVALID
        # Dates and the like stay text: JSON has no timestamps and a date in metadata is text.
        return tag if tag in _SCALAR_TAGS else _STR


# --- nodes to a Prompt -------------------------------------------------------------------------


def _kind(node: Node) -> str:
    """How to name what was found, for messages: 'a list', 'a number', ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "empty (null)"
    if node.tag == _BOOL:
        return "true/false"
    if node.tag in (_INT, _FLOAT):
        return "a number"
    return "a string"


# Where a placeholder is used: the scalar, its text, the offset in that text, the snippet.
_Use = tuple[ScalarNode, str, int, str]


def _template_syntax(text: str) -> Iterator[tuple[int, str, str | None]]:
    """Yield (offset, snippet, inner) for each {{...}}, {%...%} (inner None) and unclosed "{{"."""
    # Exactly what the lazy regex "{%.*?%}|{{(.*?)}}|{{" (no DOTALL) finds, but in linear time:
    # that regex is quadratic on a long line of "{{" or "{%" that nothing closes.
    logic_close = line_end = -1  # cached next "%}" and next newline: each search moves forward

    def closed_on_its_line(pos: int) -> bool:
        nonlocal logic_close, line_end
        if logic_close < pos + 2:
            found = text.find("%}", pos + 2)
            logic_close = found if found >= 0 else len(text) + 1
        if line_end < pos:
            found = text.find("\n", pos)
            line_end = found if found >= 0 else len(text)
        return logic_close < line_end

    def scan(
        tokens: list[tuple[str, int]], can_close: bool
    ) -> Iterator[tuple[int, str, str | None]]:
        # can_close False: the rest of a line after an unclosed "{{", where no "}}" follows.
        resume = open_at = logic_at = -1
        inside: list[tuple[str, int]] = []
        for token, pos in tokens:
            if pos < resume:  # overlaps what was consumed, e.g. the "%}" in "{%}"
                continue
            if open_at >= 0:
                if token == "}}":
                    yield open_at, text[open_at : pos + 2], text[open_at + 2 : pos]
                    open_at, inside, resume = -1, [], pos + 2
                else:
                    inside.append((token, pos))
            elif logic_at >= 0:
                if token == "%}":
                    yield logic_at, text[logic_at : pos + 2], None
                    logic_at, resume = -1, pos + 2
            elif token == "{{":
                if can_close:
                    open_at, resume = pos, pos + 2
                else:
                    yield pos, "{{", None
                    resume = pos + 2
            elif token == "{%" and closed_on_its_line(pos):
                logic_at, resume = pos, pos + 2
        if open_at >= 0:
            yield open_at, "{{", None
            yield from scan(inside, can_close=False)

    line: list[tuple[str, int]] = []
    # Lookahead, so overlapping tokens ("{%}", "{{{", "}}}") are all seen.
    for match in _SYNTAX_TOKEN_RE.finditer(text):
        if match.group(1) == "\n":
            yield from scan(line, can_close=True)
            line = []
        else:
            line.append((match.group(1), match.start()))
    yield from scan(line, can_close=True)


def _quote(name: str) -> str:
    return "{{ " + name + " }}"


class _Checker:
    """Walks the node tree of one file, building the Prompt and collecting every problem."""

    def __init__(self, text: str):
        self.text = text
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

    def run(self) -> Prompt | None:
        loader = self.loader = _Loader(self.text)
        try:
            root = _Composer(loader, self.problems).compose_single()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            detail = exc.problem or "syntax error"
            if exc.context:
                detail = f"{detail} ({exc.context})"
            line = mark.line + 1 if mark else None
            column = mark.column + 1 if mark else None
            self.problems.append(Problem(f"invalid YAML: {detail}", line, column))
            return None
        except yaml.YAMLError as exc:  # reader errors carry no mark
            self.problems.append(Problem(f"invalid YAML: {exc}"))
            return None
        finally:
            loader.dispose()
        if root is None or (root.tag == _NULL and root.value in ("", "~", "null")):
            self.problems.append(Problem("the file is empty; a prompt needs a template or messages",
                                         1, 1))
            return None
        if root.tag == _INVALID:
            return None
        if not isinstance(root, MappingNode):
            self.report(f"the top level must be a mapping of keys such as template, not "
                        f"{_kind(root)}", root)
            return None
        return self.prompt(root)

    # Generic helpers.

    def scalar(self, node: ScalarNode) -> Any:
        """The Python value of a scalar node (str, int, float, bool or None)."""
        tag = node.tag
        if tag == _STR:
            # Escapes can smuggle in what no database text column or UTF-8 encoder accepts.
            bad = _UNSTORABLE_RE.search(node.value)
            if bad and bad.group() == "\0":
                self.report("text contains a NUL character (\\0), which cannot be stored", node)
            elif bad:
                self.report(f"invalid Unicode character (lone surrogate U+{ord(bad.group()):04X})",
                            node)
            return node.value
        if tag == _NULL:
            return None
        try:
            if tag == _BOOL:
                return self.loader.construct_yaml_bool(node)
            if tag == _INT:
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
            if key_node.tag == _INVALID:
                continue
            if not isinstance(key_node, ScalarNode):
                self.report(f"{where}: a key must be a plain name, not {_kind(key_node)}",
                            key_node)
                continue
            key = self.scalar(key_node)
            if not isinstance(key, str):
                self.report(f"{where}: key {key_node.value!r} is read as {_kind(key_node)}, "
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
            return None if node.tag == _INVALID else self.scalar(node)
        if isinstance(node, SequenceNode):
            return [self.json(item, f"{where}[{i}]") for i, item in enumerate(node.value)]
        assert isinstance(node, MappingNode)
        return {
            key: self.json(value, f"{where}.{key}") for key, _, value in self.pairs(node, where)
        }

    def string(self, node: Node, where: str, allow_null: bool = True) -> str | None:
        """A string field (None when null and allowed); reports the wrong type."""
        if node.tag == _INVALID:
            return None
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(self.scalar(node))
        if allow_null and node.tag == _NULL:
            return None
        hint = ""
        if isinstance(node, MappingNode) and self.text.startswith("{{", node.start_mark.index):
            hint = " (quote text that starts with '{{')"
        self.report(f"{where} must be a string, not {_kind(node)}{hint}", node)
        return None

    def mapping(self, node: Node, where: str) -> MappingNode | None:
        """The node if it is a mapping; None (silently) when null; reports other types."""
        if isinstance(node, MappingNode):
            return node
        if node.tag not in (_NULL, _INVALID):
            self.report(f"{where} must be a mapping, not {_kind(node)}", node)
        return None

    # The fields.

    def prompt(self, root: MappingNode) -> Prompt | None:
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
        placeholders = self.placeholders(texts)
        if "variables" in fields and variables is not None:
            self.match_variables(variables, placeholders, texts_complete,
                                 "template" if "template" in fields else "messages")
        if self.problems:
            return None
        return Prompt(
            type="text" if template is not None else "chat",
            template=template,
            messages=messages,
            model=model,
            params=params,
            variables={name: spec for name, (spec, _) in (variables or {}).items()},
            description=description,
            tags=tags,
            metadata=metadata,
        )

    def template(self, node: Node, texts: list[tuple[ScalarNode, str]]) -> str | None:
        text = self.string(node, "template")
        if text is None or not text.strip():
            if node.tag in (_STR, _NULL):
                self.report("template is empty", node)
            return None
        assert isinstance(node, ScalarNode)
        texts.append((node, text))
        return text

    def messages(
        self, node: Node, texts: list[tuple[ScalarNode, str]]
    ) -> list[dict[str, str]] | None:
        if node.tag == _INVALID:
            return None
        if not isinstance(node, SequenceNode):
            self.report(f"messages must be a list of {{role, content}} mappings, not "
                        f"{_kind(node)}", node)
            return None
        if not node.value:
            self.report("messages is empty; add at least one {role, content} message", node)
            return None
        out = []
        for number, item in enumerate(node.value, 1):
            where = f"message {number}"
            if item.tag == _INVALID:
                continue
            if not isinstance(item, MappingNode):
                self.report(f"{where} must be a mapping with role and content, not {_kind(item)}",
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
        if node is None or node.tag in (_NULL, _INVALID):
            return []
        if not isinstance(node, SequenceNode):
            self.report(f"tags must be a list of strings, not {_kind(node)}", node)
            return []
        tags = []
        for number, item in enumerate(node.value, 1):
            tag = self.string(item, f"tag {number}", allow_null=False)
            if tag is not None:
                tags.append(tag)
        return tags

    def variables(self, node: Node | None) -> dict[str, tuple[dict[str, Any], ScalarNode]] | None:
        """name -> (normalised spec, key node); None when absent or not a mapping."""
        if node is None:
            return None
        if node.tag == _NULL:
            return {}  # "variables:" with nothing under it declares no variables
        mapping = self.mapping(node, "variables")
        if mapping is None:
            return None
        out: dict[str, tuple[dict[str, Any], ScalarNode]] = {}
        for name, key_node, spec_node in self.pairs(mapping, "variables"):
            if not NAME_RE.fullmatch(name):
                self.report(f"variable name '{name}' is not valid (letters, digits and _, not "
                            "starting with a digit)", key_node)
                continue
            spec: dict[str, Any] = {"description": None, "default": None, "required": None}
            where = f"variable '{name}'"
            if spec_node.tag == _INVALID:
                continue
            if isinstance(spec_node, MappingNode):
                for key, sub_key, sub in self.pairs(spec_node, where):
                    if key not in VARIABLE_KEYS:
                        self.report(f"{where}: unknown key '{key}' (allowed: "
                                    f"{', '.join(VARIABLE_KEYS)})", sub_key)
                    elif key == "description":
                        spec[key] = self.string(sub, f"{where}: description")
                    elif key == "default":
                        spec[key] = self.default(sub, where)
                    elif isinstance(sub, ScalarNode) and sub.tag == _BOOL:
                        spec[key] = self.scalar(sub)
                    elif sub.tag != _INVALID:
                        self.report(f"{where}: required must be true or false, not "
                                    f"{_kind(sub)}", sub)
            elif spec_node.tag != _NULL:
                self.report(f"{where} must be a mapping of description, default and required "
                            f"(or empty), not {_kind(spec_node)}", spec_node)
                continue
            if spec["required"] and spec["default"] is not None:
                self.report(f"{where} is required and has a default; drop one of them", key_node)
            if spec["required"] is None:
                spec["required"] = spec["default"] is None
            out[name] = (spec, key_node)
        return out

    def default(self, node: Node, where: str) -> Any:
        if isinstance(node, ScalarNode):
            return None if node.tag == _INVALID else self.scalar(node)
        self.report(f"{where}: default must be a single value (text, number or true/false), "
                    f"not {_kind(node)}", node)
        return None

    def placeholders(self, texts: list[tuple[ScalarNode, str]]) -> dict[str, _Use]:
        """Placeholder name -> its first use; reports malformed template syntax."""
        found: dict[str, _Use] = {}
        for node, text in texts:
            for offset, snippet, inner in _template_syntax(text):
                if len(self.problems) >= MAX_PROBLEMS:
                    break
                if snippet.startswith("{%"):
                    message = f"template logic {snippet!r} is not supported; only {_quote('name')}"
                elif inner is None:
                    message = "'{{' is not closed by '}}' on the same line"
                elif NAME_RE.fullmatch(inner.strip(" \t")):
                    # Located only if it turns out to be a problem: locating costs a scan.
                    found.setdefault(inner.strip(" \t"), (node, text, offset, snippet))
                    continue
                else:
                    message = (f"malformed placeholder {snippet!r}; a placeholder is "
                               f"{_quote('name')} with a name of letters, digits and _")
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
        return _position(self.text, index)

    def match_variables(
        self,
        variables: dict[str, tuple[dict[str, Any], ScalarNode]],
        placeholders: dict[str, _Use],
        texts_complete: bool,
        used_in: str,
    ) -> None:
        for name, use in placeholders.items():
            if name not in variables:
                self.report_at(f"placeholder {_quote(name)!r} is not declared under variables", use)
        for name, (_, key_node) in variables.items():
            if texts_complete and name not in placeholders:
                self.report(f"variable '{name}' is declared but not used in the {used_in}",
                            key_node)
