"""Tests for promptsync.format.prompt: slugs, hashing, parsing, validation, rendering, corpora."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptsync.errors import Problem, PromptFileError, RenderError
from promptsync.format import prompt as prompts
from promptsync.format.prompt import (
    MAX_FILE_BYTES,
    Prompt,
    parse_prompt,
    slug_for_path,
    slug_problem,
    source_sha256,
)
from promptsync.format.source import normalise_newlines
from promptsync.format.templates import render_template, template_syntax

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
INVALID = DATA / "invalid"
VALID = DATA / "valid"
BADSLUGS = DATA / "badslugs"
EXAMPLES = ROOT / "prompts"
EXPECTED = yaml.safe_load((INVALID / "EXPECTED.yaml").read_text("utf-8"))

GREETING = """\
description: Greets a customer by name
model: gpt-4o-mini
params: {temperature: 0.2, max_tokens: 300}
variables:
  name: {description: customer first name, default: there}
  topic: {required: true}
template: |
  Hello {{ name }}, thanks for asking about {{ topic }}.
tags: [support]
metadata: {owner: support-team}
"""


def problems_of(source: bytes | str) -> list[Problem]:
    with pytest.raises(PromptFileError) as info:
        parse_prompt(source, "p.yaml")
    return info.value.problems


def is_valid_slug(slug: str) -> bool:
    return slug_problem(slug) is None


def rebuilt(data: dict[str, Any]) -> Prompt:
    """A Prompt from to_dict() output (other keys ignored): what the server keeps of a parse."""
    return Prompt(**{f.name: data[f.name] for f in dataclasses.fields(Prompt)})


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture(params=["libyaml", "pure-python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml's loader and with PyYAML's pure-Python fallback."""
    if request.param == "pure-python":
        monkeypatch.setattr(prompts, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    return str(request.param)


# --- slugs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "slug",
    ["greeting", "support/greeting", "a/b/c/d/e/f/g/h", "v1.2_beta-3", "0", "x" * 200,
     "deep/a/b/c/d/e/f/prompt"],
)
def test_valid_slugs(slug: str) -> None:
    assert slug_problem(slug) is None
    assert is_valid_slug(slug)


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("", "the slug is empty"),
        ("x" * 201, "201 characters long; the limit is 200"),
        ("a/b/c/d/e/f/g/h/i", "9 path segments; the limit is 8"),
        ("support//greeting", "empty path segment"),
        ("/support", "empty path segment"),
        ("support/", "empty path segment"),
        ("-", "segment '-' must start with a lowercase letter or digit"),
        ("Support/greeting", "segment 'Support'"),
        ("support/-x", "segment '-x'"),
        ("support/.hidden", "segment '.hidden'"),
        ("../etc/passwd", "segment '..'"),
        ("has space", "segment 'has space'"),
        ("ünïcode", "segment 'ünïcode'"),
        ("a\\b", "segment 'a\\\\b'"),
    ],
)
def test_invalid_slugs(slug: str, reason: str) -> None:
    problem = slug_problem(slug)
    assert problem is not None and reason in problem
    assert not is_valid_slug(slug)


@pytest.mark.parametrize(
    ("relpath", "slug"),
    [
        ("support/greeting.yaml", "support/greeting"),
        ("support/greeting.yml", "support/greeting"),
        (os.path.join("sales", "outreach", "cold-email.yaml"), "sales/outreach/cold-email"),
        ("./support/greeting.yaml", "support/greeting"),
        ("greeting.en.yaml", "greeting.en"),
    ],
)
def test_slug_for_path(relpath: str, slug: str) -> None:
    assert slug_for_path(relpath) == slug


# Each file in tests/data/badslugs (content valid) with why its name is refused.
BAD_NAMES = {
    "-.yaml": "segment '-'",
    "-leading-dash.yaml": "segment '-leading-dash'",
    ".hidden.yaml": "segment '.hidden'",
    "Greeting.yaml": "segment 'Greeting'",
    "UPPER/fine-name.yaml": "segment 'UPPER'",
    "_underscore-first.yaml": "segment '_underscore-first'",
    "a/b/c/d/e/f/g/h/nine-segments.yaml": "9 path segments",
    "has space.yaml": "segment 'has space'",
    "no-extension": "must end in .yaml or .yml",
    "notes.txt": "must end in .yaml or .yml",
    "ok/trailing-dot.yaml.bak": "must end in .yaml or .yml",
    "prompt.YAML": "must end in .yaml or .yml",
    "x" * 201 + ".yaml": "201 characters long",
    "ünïcode.yaml": "segment 'ünïcode'",
}


def test_badslugs_folder_is_fully_covered() -> None:
    assert files_under(BADSLUGS) == sorted(BAD_NAMES)


@pytest.mark.parametrize("relpath", sorted(BAD_NAMES))
def test_bad_file_names_are_reported(relpath: str) -> None:
    parse_prompt((BADSLUGS / relpath).read_bytes())  # the content is fine: only the name is bad
    with pytest.raises(PromptFileError) as info:
        slug_for_path(relpath)
    assert info.value.path == relpath
    [problem] = info.value.problems
    assert problem.message.startswith("bad file name: ")
    assert BAD_NAMES[relpath] in problem.message


@pytest.mark.parametrize(("relpath", "advice"), [
    ("prompt.YAML", "(lowercase): rename it to prompt.yaml"),
    ("T9.YAML", "(lowercase): rename it to t9.yaml"),  # "T9.yaml" was named, refused too
    ("sub/My Prompt.YML", "(lowercase), and the path segment 'My Prompt' must start with"),
])
def test_an_upper_case_extension_gets_a_name_that_works(relpath: str, advice: str) -> None:
    with pytest.raises(PromptFileError) as info:
        slug_for_path(relpath)
    assert advice in info.value.problems[0].message


def test_absolute_path_is_not_a_slug() -> None:
    with pytest.raises(PromptFileError, match="relative to the prompts directory"):
        slug_for_path("/support/greeting.yaml")


# --- hashing -------------------------------------------------------------------------------------


def test_normalise_newlines() -> None:
    assert normalise_newlines(b"a\r\nb\rc\nd\r\n\r") == b"a\nb\nc\nd\n\n"
    assert normalise_newlines(b"") == b""


def test_source_sha256_ignores_line_endings_only() -> None:
    lf = GREETING.encode()
    expected = hashlib.sha256(lf).hexdigest()
    assert source_sha256(lf) == expected
    assert source_sha256(GREETING) == expected
    assert source_sha256(lf.replace(b"\n", b"\r\n")) == expected
    assert source_sha256(lf.replace(b"\n", b"\r")) == expected
    # Any other change, a comment or trailing space included, is a new identity.
    assert source_sha256(lf + b"# note\n") != expected
    assert source_sha256(lf.replace(b"there", b"there ")) != expected


def test_source_sha256_never_fails_on_bad_text() -> None:
    assert len(source_sha256("\ud800")) == 64


# --- the invalid corpus --------------------------------------------------------------------------


def test_invalid_corpus_and_expectations_match() -> None:
    assert len(EXPECTED) >= 50
    assert files_under(INVALID) == sorted([*EXPECTED, "EXPECTED.yaml"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_corpus(name: str, loader: str) -> None:
    expected = EXPECTED[name]
    problems = problems_of((INVALID / name).read_bytes())
    hits = [p for p in problems if expected["message"] in p.message]
    assert hits, problems
    assert expected["line"] in [p.line for p in hits], problems


def test_oversize_file_is_rejected_before_parsing() -> None:
    head = b"template: hi\n"
    filler = b"# " + b"x" * 77 + b"\n"
    body = head + filler * ((MAX_FILE_BYTES - len(head)) // len(filler))
    exact = body + b"#" * (MAX_FILE_BYTES - len(body) - 1) + b"\n"
    assert len(exact) == MAX_FILE_BYTES
    assert parse_prompt(exact).template == "hi"
    [problem] = problems_of(exact + b"\n")
    assert problem == Problem(
        f"the file is {MAX_FILE_BYTES + 1} bytes; the limit is 262144 bytes (256 KiB)"
    )
    # Text (as the server receives it) is measured in UTF-8 bytes, not characters.
    text = "template: " + "é" * (MAX_FILE_BYTES // 2) + "\n"
    assert "the limit is 262144 bytes" in problems_of(text)[0].message


def test_invalid_utf8_line_counts_every_line_ending() -> None:
    [problem] = problems_of(b"description: a\rmodel: b\r\ntemplate: \x80\n")
    assert (problem.message, problem.line, problem.column) == (
        "the file is not UTF-8 (invalid byte 0x80)", 3, 11)


def test_str_source_with_bom_is_rejected_like_bytes() -> None:
    # Decision: a BOM is refused everywhere (bytes or text), never silently stripped.
    assert problems_of("\ufefftemplate: hi\n") == [
        Problem("the file starts with a byte order mark (BOM); save it as UTF-8 without BOM", 1, 1)
    ]


def test_str_source_with_lone_surrogate() -> None:
    assert problems_of("template: hi\nmodel: \ud800\n") == [
        Problem("the text is not valid Unicode (a lone surrogate)", 2, 8)
    ]


def test_alias_bomb_is_cheap_and_reported_briefly() -> None:
    # Nine levels of nine aliases would expand to 9**9 items if constructed.
    levels = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    source = "template: hi\nmetadata:\n" + "".join(f"  {line}\n" for line in levels)
    started = time.perf_counter()
    problems = problems_of(source)
    assert time.perf_counter() - started < 0.5
    aliases = [p for p in problems if p.message.startswith("YAML aliases")]
    assert [p.line for p in aliases] == list(range(4, 12))  # one per alias name, not 72
    assert len(problems) == 9 + 8


def test_deep_nesting_past_libyaml_limit_is_an_error() -> None:
    problems = problems_of("template: hi\nparams: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems[0].line == 2


def test_python_tags_never_construct(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = f"template: !!python/object/apply:os.system ['touch {marker}']\n"
    problems_of(source)
    assert not marker.exists()


# --- every problem at once, with columns ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "model: [a]\ntempalte: x\ntemplate: Hi {{ who }}\ntags: [1]\n",
            [
                Problem("model must be a string, not a list", 1, 8),
                Problem("unknown key 'tempalte' (did you mean 'template'? allowed: description, "
                        "model, params, variables, template, messages, tags, metadata, "
                        "output_schema)", 2, 1),
                Problem("tag 1 must be a string, not a number", 4, 8),
            ],
        ),
        (
            "variables:\n  a: {}\n  unused: {}\ntemplate: |\n  {{ a }} {{ b }}\n  {{ a.b }}\n",
            [
                Problem("variable 'unused' is declared but not used in the template", 3, 3),
                Problem("placeholder '{{ b }}' is not declared under variables", 5, 11),
                Problem("malformed placeholder '{{ a.b }}'; a placeholder is {{ name }} with a "
                        "name of ASCII letters, digits and _ (write a literal '{{' as '\\{{')",
                        6, 3),
            ],
        ),
        (
            "messages:\n- {role: bot, content: hi}\n- role: user\n  content: 3\n- {content: x}\n",
            [
                Problem("message 1: role 'bot' is not one of system, user, assistant, tool", 2, 10),
                Problem("message 2: content must be a string, not a number", 4, 12),
                Problem("message 3 has no role", 5, 3),
            ],
        ),
        (
            "template: x\nparams: {a: 1, a: 2}\nmetadata: {b: 1, b: 2}\n",
            [
                Problem("duplicate key 'a' (first defined on line 2)", 2, 16),
                Problem("duplicate key 'b' (first defined on line 3)", 3, 18),
            ],
        ),
        (
            "variables: {a: {}}\ntemplate: ''\n",  # no "a is unused" noise on a broken template
            [Problem("template is empty", 2, 11)],
        ),
        (
            # Cyrillic letters are letters: the rule is ASCII ("not valid (letters…)" misled).
            "variables: {имя: {}}\ntemplate: '{{ имя }}'\n",
            [
                Problem("variable name 'имя' is not valid (ASCII letters, digits and _, not "
                        "starting with a digit)", 1, 13),
                Problem("malformed placeholder '{{ имя }}'; a placeholder is {{ name }} with a "
                        "name of ASCII letters, digits and _ (write a literal '{{' as '\\{{')",
                        2, 12),
            ],
        ),
        (
            'template: "{{ a }}\\t{{ b.c }}"\n',  # an escape before it: column still exact
            [
                Problem("malformed placeholder '{{ b.c }}'; a placeholder is {{ name }} with a "
                        "name of ASCII letters, digits and _ (write a literal '{{' as '\\{{')",
                        1, 21),
            ],
        ),
    ],
)
def test_every_problem_is_reported_in_reading_order(
    source: str, expected: list[Problem], loader: str
) -> None:
    assert problems_of(source) == expected


def test_error_names_file_line_and_column() -> None:
    with pytest.raises(PromptFileError) as info:
        parse_prompt("template: hi\nmodel: 4\n", "prompts/support/greeting.yaml")
    assert info.value.path == "prompts/support/greeting.yaml"
    assert str(info.value) == (
        "prompts/support/greeting.yaml:2:8: model must be a string, not a number"
    )
    assert info.value.problems[0].to_dict() == {
        "message": "model must be a string, not a number", "line": 2, "column": 8,
    }


# --- the valid corpus and the examples -----------------------------------------------------------


VALID_FILES = files_under(VALID)
EXAMPLE_FILES = files_under(EXAMPLES)


def test_valid_corpus_is_big_enough() -> None:
    assert len(VALID_FILES) >= 20


@pytest.mark.parametrize("relpath", VALID_FILES)
def test_valid_corpus(relpath: str, loader: str) -> None:
    prompt = parse_prompt((VALID / relpath).read_bytes(), relpath)
    assert slug_for_path(relpath)
    json.dumps(prompt.to_dict(), allow_nan=False)  # JSON-ready, strictly


def test_examples_exist_and_cover_text_and_chat() -> None:
    assert 6 <= len(EXAMPLE_FILES) <= 10
    types = {parse_prompt((EXAMPLES / f).read_bytes()).type for f in EXAMPLE_FILES}
    assert types == {"text", "chat"}


@pytest.mark.parametrize("relpath", EXAMPLE_FILES)
def test_example_prompts_are_valid(relpath: str) -> None:
    prompt = parse_prompt((EXAMPLES / relpath).read_bytes(), relpath)
    assert is_valid_slug(slug_for_path(relpath))
    assert prompt.description and prompt.model and prompt.tags


def test_example_greeting_matches_the_spec() -> None:
    prompt = parse_prompt((EXAMPLES / "support" / "greeting.yaml").read_bytes())
    assert prompt.type == "text"
    assert prompt.variables == {
        "name": {"description": "customer first name", "default": "there", "required": False},
        "topic": {"description": None, "default": None, "required": True},
    }
    assert prompt.render(topic="billing") == "Hello there, thanks for asking about billing.\n"
    assert parse_prompt(GREETING).to_dict() == prompt.to_dict()


def test_crlf_and_cr_files_parse_like_lf() -> None:
    crlf = (VALID / "crlf.yaml").read_bytes()
    assert b"\r\n" in crlf  # the .gitattributes keeps the fixture byte-exact
    lf = parse_prompt(crlf.replace(b"\r\n", b"\n"))
    assert parse_prompt(crlf) == lf
    assert parse_prompt(crlf.decode()) == lf
    assert lf.template == "Hello {{ name }},\nsecond line.\n"
    assert parse_prompt((VALID / "cr-only.yaml").read_bytes()).template == "Hello {{ name }}\nbye\n"


def test_timestamps_stay_text() -> None:
    # Decision: implicit YAML timestamps are kept as the text written; !!timestamp is refused.
    prompt = parse_prompt((VALID / "timestamps-are-text.yaml").read_bytes())
    assert prompt.metadata["created"] == "2024-05-01"
    assert prompt.metadata["reviewed_at"] == "2024-05-01 10:30:00"


def test_explicit_safe_tags() -> None:
    prompt = parse_prompt((VALID / "explicit-safe-tags.yaml").read_bytes())
    assert prompt.model == "4"
    assert prompt.params == {"max_tokens": 5, "temperature": 1.0, "stream": True, "seed": None}


def test_empty_optional_fields_get_empty_values() -> None:
    prompt = parse_prompt((VALID / "empty-optional-fields.yaml").read_bytes())
    assert (prompt.description, prompt.model, prompt.params, prompt.variables, prompt.tags,
            prompt.metadata) == (None, None, {}, {}, [], {})


def test_placeholders_spacing_and_json_braces() -> None:
    spaced = parse_prompt((VALID / "placeholder-spacing.yaml").read_bytes())
    assert spaced.placeholders() == ["name", "topic", "x_1"]
    braces = parse_prompt((VALID / "json-in-template.yaml").read_bytes())
    assert braces.placeholders() == ["answer_hint"]
    assert parse_prompt((VALID / "braces-single.yaml").read_bytes()).placeholders() == []


def test_long_template_near_the_size_limit() -> None:
    lines = [f"  line {i:06d} {{{{ v }}}} lorem ipsum dolor sit amet\n" for i in range(5000)]
    source = "template: |\n" + "".join(lines)
    assert len(source.encode()) > 200 * 1024
    assert parse_prompt(source).placeholders() == ["v"]


# --- Prompt behaviour ----------------------------------------------------------------------------


def test_to_dict_shape_and_round_trip() -> None:
    prompt = parse_prompt(GREETING)
    data = prompt.to_dict()
    assert list(data) == ["type", "template", "messages", "model", "params", "variables",
                          "description", "tags", "metadata", "output_schema"]
    assert data["messages"] is None
    assert data["params"] == {"temperature": 0.2, "max_tokens": 300}
    assert rebuilt({**data, "slug": "support/greeting", "version": 3}) == prompt
    data["params"]["temperature"] = 1  # a copy: the frozen Prompt is unchanged
    assert prompt.params["temperature"] == 0.2
    with pytest.raises(dataclasses.FrozenInstanceError):
        prompt.model = "other"  # type: ignore[misc]


def test_chat_prompt_to_dict_and_render() -> None:
    prompt = parse_prompt((EXAMPLES / "classify" / "ticket-router.yaml").read_bytes())
    assert prompt.type == "chat" and prompt.template is None
    assert prompt.to_dict()["template"] is None
    rendered = prompt.render({"subject": "Login"}, body="It says {{ subject }}")
    assert isinstance(rendered, list)
    assert rendered[-1] == {"role": "user", "content": "Subject: Login\n\nIt says {{ subject }}"}
    assert [m["role"] for m in rendered] == ["system", "user", "assistant", "user"]


@pytest.mark.parametrize(
    ("given", "missing", "unknown"),
    [
        ({}, ["topic"], []),
        ({"topic": "x", "nme": "Ann"}, [], ["nme"]),
        ({"nme": "Ann"}, ["topic"], ["nme"]),
    ],
)
def test_render_is_strict(given: dict[str, str], missing: list[str], unknown: list[str]) -> None:
    with pytest.raises(RenderError) as info:
        parse_prompt(GREETING).render(given)
    assert (info.value.missing, info.value.unknown) == (missing, unknown)


def test_render_values_and_defaults() -> None:
    prompt = parse_prompt(GREETING)
    assert prompt.render({"name": "Ann"}, topic=42) == "Hello Ann, thanks for asking about 42.\n"
    # Keyword arguments win over the mapping; a variable may even be called "variables".
    assert prompt.render({"topic": "a"}, topic="b") == "Hello there, thanks for asking about b.\n"
    defaults = parse_prompt((VALID / "variable-default-types.yaml").read_bytes())
    # true/false as written in the file (JSON), not Python's False
    assert defaults.render() == "3 0.5 false []"
    optional = parse_prompt((VALID / "variable-optional-no-default.yaml").read_bytes())
    assert optional.render() == "Thanks!"


def test_render_without_variables_block_requires_every_placeholder() -> None:
    prompt = parse_prompt("template: '{{ a }}-{{ b }}-{{ a }}'\n")
    assert prompt.placeholders() == ["a", "b"]
    assert prompt.render(a=1, b=2) == "1-2-1"
    with pytest.raises(RenderError) as info:
        prompt.render(a=1, c=3)
    assert (info.value.missing, info.value.unknown) == (["b"], ["c"])


def test_render_template_is_single_pass() -> None:
    assert render_template("{{a}} {{ b }}", {"a": "{{ b }}", "b": "x"}) == "{{ b }} x"
    with pytest.raises(RenderError) as info:
        render_template("{{ a }}", {})
    assert info.value.missing == ["a"]


# --- speed ---------------------------------------------------------------------------------------


def best_of(runs: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def test_template_syntax_scan_matches_the_simple_regex() -> None:
    simple = re.compile(r"\{%.*?%\}|\{\{(.*?)\}\}|\{\{")
    pieces = ["{", "}", "%", "\n", " ", "a", "{{", "}}", "{%", "%}", "1", "."]
    rng = random.Random(7)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        expected = [(m.start(), m.group(), None if m.group().startswith("{%") else m.group(1))
                    for m in simple.finditer(text)]
        assert list(template_syntax(text)) == expected, text


@pytest.mark.parametrize("unit", ["{{", "{%", "{% {{", "{{ {%"])
def test_unclosed_template_syntax_is_linear(unit: str) -> None:
    # The simple regex takes over a minute on these 256 KiB single-line templates.
    source = ('template: "' + unit * MAX_FILE_BYTES)[: MAX_FILE_BYTES - 2] + '"\n'

    def parse() -> None:
        try:
            parse_prompt(source)  # an unclosed "{%" is plain text: that file is valid
        except PromptFileError:
            pass

    assert best_of(1, parse) < 3.0


@pytest.mark.parametrize(("given", "said"), [
    # name has a default, so it is not missing: the typo is still guessed among the variables
    # not given (the example prompt as shipped, which `render -v nmae=Ann` met)
    ({"nmae": "Ann", "topic": "x"}, "unknown variables: nmae (did you mean 'name'?)"),
    ({"nmae": "Ann"}, "missing variables: topic; unknown variables: nmae (did you mean 'name'?)"),
    ({"tpoic": "x"}, "missing variables: topic; unknown variables: tpoic (did you mean 'topic'?)"),
    ({"zzz": 1, "topic": "x"}, "unknown variables: zzz"),
    ({"name": "Ann", "nmae": "Bo", "topic": "x"}, "unknown variables: nmae"),  # name was given
])
def test_a_typo_in_a_variable_is_guessed_among_those_not_given(given: dict[str, Any],
                                                               said: str) -> None:
    prompt = parse_prompt(
        b"variables:\n  name: {default: there}\n  topic: {required: true}\n"
        b"template: Hi {{ name }}, {{ topic }}.\n", path="p.yaml")
    with pytest.raises(RenderError) as raised:
        prompt.render(given)
    assert str(raised.value) == said
    assert str(pickle.loads(pickle.dumps(raised.value))) == said  # crosses processes (a 422)
