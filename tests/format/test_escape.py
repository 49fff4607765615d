r"""The \{{ escape (a literal "{{" in a template) and the YAML scalars that keep a text exactly.

One rule, in promptsync.format.templates: a backslash directly before "{{" makes those braces
text and is dropped; a backslash anywhere else is text. Render, the placeholder list, the lint's
syntax scan and the admin's view all read it from there.
"""

from __future__ import annotations

import random
import re

import pytest
import yaml

from promptsync.errors import PromptFileError, RenderError
from promptsync.format.emit import double_quoted, literal_block, text_scalar
from promptsync.format.prompt import parse_prompt
from promptsync.format.templates import (
    escape_braces,
    placeholder_names,
    render_template,
    segments,
    template_syntax,
)
from tests.support.prompt_corpus import TEXTS


@pytest.mark.parametrize(
    ("template", "values", "rendered"),
    [
        ("\\{{ name }}", {}, "{{ name }}"),
        ("\\{{name}} is {{ name }}", {"name": "Ann"}, "{{name}} is Ann"),
        # A backslash that is not directly before "{{" is text, so this is "\" then an escape.
        ("\\\\{{ name }}", {}, "\\{{ name }}"),
        ("\\\\\\{{ x }}", {}, "\\\\{{ x }}"),
        ("a\\b\\{c}\\", {}, "a\\b\\{c}\\"),
        ("\\{{ open", {}, "{{ open"),
        ("\\{{{ x }}}", {}, "{{{ x }}}"),
        ("{{ a }}\\{{ a }}{{ a }}", {"a": "1"}, "1{{ a }}1"),
        ("}} \\}} {x}", {}, "}} \\}} {x}"),
        ("\\{%", {}, "\\{%"),  # only "{{" has an escape
        ("{{a}}", {"a": "\\{{ b }}"}, "\\{{ b }}"),  # values are never read as templates
    ],
)
def test_render_with_escapes(template: str, values: dict[str, str], rendered: str) -> None:
    assert render_template(template, values) == rendered


def test_an_escaped_placeholder_is_neither_a_placeholder_nor_missing() -> None:
    assert placeholder_names("\\{{ a }} {{ b }} \\\\{{ c }}") == {"b"}
    with pytest.raises(RenderError) as info:
        render_template("\\{{ a }} {{ b }}", {})
    assert info.value.missing == ["b"]


def test_segments_are_the_rendered_text_with_placeholders_as_written() -> None:
    assert list(segments("Hi {{name}}, \\{{ x }} {{ y }}!")) == [
        ("Hi ", None), ("{{name}}", "name"), (", {{ x }} ", None), ("{{ y }}", "y"), ("!", None),
    ]
    assert list(segments("")) == []
    assert list(segments("\\{{")) == [("{{", None)]


@pytest.mark.parametrize("template", [
    "\\{{ open and never closed", "\\{{ 1st }}", "\\{{ user.name }}", "\\{{}}",
    "\\{{#if x}}\\{{/if}}", "\\{{{ raw }}}",
])
def test_the_lint_accepts_escaped_braces(template: str) -> None:
    assert list(template_syntax(template)) == []
    parse_prompt(yaml.safe_dump({"template": template}))  # valid: no exception


def test_the_lint_still_reports_what_is_not_escaped() -> None:
    with pytest.raises(PromptFileError) as info:
        parse_prompt("template: '\\{{ ok }} {{ user.name }} {{ open'\n")
    messages = [p.message for p in info.value.problems]
    assert any("malformed placeholder '{{ user.name }}'" in m for m in messages), messages
    assert any("not closed" in m for m in messages), messages


def test_an_escaped_use_does_not_use_a_declared_variable() -> None:
    source = "variables:\n  name: {}\ntemplate: 'Hello \\{{ name }}'\n"
    with pytest.raises(PromptFileError, match="variable 'name' is declared but not used"):
        parse_prompt(source)


def test_the_syntax_scan_matches_the_simple_regex_with_escapes() -> None:
    simple = re.compile(r"\\\{\{|\{%.*?%\}|\{\{(.*?)\}\}|\{\{")
    pieces = ["\\", "{", "}", "%", "\n", " ", "a", "{{", "}}", "{%", "%}", "\\{{"]
    rng = random.Random(18)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        expected = [(m.start(), m.group(), None if m.group().startswith("{%") else m.group(1))
                    for m in simple.finditer(text) if not m.group().startswith("\\")]
        assert list(template_syntax(text)) == expected, text


# --- the lint quotes a placeholder as it is written -------------------------------------------


def test_an_undeclared_placeholder_is_quoted_as_written() -> None:
    source = "variables:\n  a: {}\ntemplate: '{{a}} {{b}} {{\tc }}'\n"
    with pytest.raises(PromptFileError) as info:
        parse_prompt(source)
    messages = [p.message for p in info.value.problems]
    assert "placeholder '{{b}}' is not declared under variables" in messages
    assert "placeholder '{{\tc }}' is not declared under variables" in messages


# --- texts in YAML: a literal block where it can hold them, else a quoted scalar ---------------


@pytest.mark.parametrize(("text", "header"), [
    ("one line\n", "|\n"), ("no newline", "|-\n"), ("two\n\n", "|+\n"),
    ("  indented\n", "|2\n"), ("\n\n  after blanks", "|2-\n"), ("   \nx\n\n\n", "|2+\n"),
    ("\ttab first\n", "|2\n"), ("\n\nx", "|2-\n"), ("x\n  y\n", "|\n"),
])
def test_literal_block_headers(text: str, header: str) -> None:
    block = literal_block(text, 2, 0)
    assert block is not None and block.startswith(header)
    assert parse_prompt("template: " + block).template == text  # libyaml, as the app reads


@pytest.mark.parametrize("text", ["crlf\r\n", "a\x85b", "a\u2028b", "bell\x07", "", "\n\n", "  "])
def test_what_a_block_cannot_hold_is_refused(text: str) -> None:
    assert literal_block(text, 2, 0) is None


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_corpus_text_survives_a_template_scalar(name: str) -> None:
    text = TEXTS[name]
    escaped = escape_braces(text)
    prompt = parse_prompt("description: corpus\ntemplate: " + text_scalar(escaped, 2, 0))
    assert prompt.template == escaped
    assert prompt.placeholders() == []
    assert prompt.render() == text


def test_corpus_texts_survive_as_messages_under_list_items() -> None:
    # Under "- role:", an indentation indicator counts from the key's column, not the dash's.
    names = sorted(TEXTS)
    items = "".join(
        f"  - role: user\n    content: {text_scalar(escape_braces(TEXTS[n]), 6, 4)}" for n in names
    )
    prompt = parse_prompt("messages:\n" + items)
    assert [m["content"] for m in prompt.render()] == [TEXTS[n] for n in names]  # type: ignore


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_corpus_text_survives_a_double_quoted_scalar(name: str) -> None:
    text = escape_braces(TEXTS[name])
    assert parse_prompt("template: " + double_quoted(text, 2)).template == text


def test_a_double_quoted_text_keeps_one_source_line_per_file_line() -> None:
    written = double_quoted("a\r\n  b\r\n\tc", 2)
    assert written == '"a\\r\\n\\\n  \\  b\\r\\n\\\n  \\tc"\n'
    assert yaml.safe_load("t: " + written)["t"] == "a\r\n  b\r\n\tc"
