"""Typed variables (SPEC §13): type and enum in the file, defaults that must match them, values
checked at render (every problem named at once) and command-line strings read as the type."""

from __future__ import annotations

from typing import Any

import pytest

from promptsync.errors import PromptFileError, RenderError
from promptsync.format.contract import from_command_line, value_problem
from promptsync.format.prompt import parse_prompt


def typed(spec: str, placeholder: str = "v") -> str:
    """A one-variable prompt file whose variable is declared as ``spec`` (YAML flow)."""
    return f"variables:\n  {placeholder}: {spec}\ntemplate: '[{{{{ {placeholder} }}}}]'\n"


def problems(source: str) -> list[tuple[int | None, str]]:
    with pytest.raises(PromptFileError) as info:
        parse_prompt(source, "p.yaml")
    return [(p.line, p.message) for p in info.value.problems]


# (type, a value of that type, values of other types)
VALUES: list[tuple[str, Any, list[Any]]] = [
    ("string", "ann", [3, 2.5, True, ["a"], {"a": 1}, None]),
    ("integer", 3, ["3", 2.5, True, [3], {"n": 3}, None]),
    ("number", 2.5, ["2.5", True, [2.5], None]),
    ("number", 3, ["x", False]),
    ("boolean", True, ["true", 1, 0, [], None]),
    ("array", ["a", 1], ["a,1", {"a": 1}, 3]),
    ("object", {"a": 1}, ["{}", ["a"], 3]),
]


@pytest.mark.parametrize(("type_", "good", "bad"), VALUES)
def test_values_of_the_declared_type_render_and_others_are_named(
        type_: str, good: Any, bad: list[Any]) -> None:
    prompt = parse_prompt(typed(f"{{type: {type_}, required: true}}"))
    assert prompt.variables["v"]["type"] == type_
    prompt.render(v=good)
    for value in bad:
        with pytest.raises(RenderError) as info:
            prompt.render(v=value)
        assert list(info.value.invalid) == ["v"], value
        assert info.value.invalid["v"].startswith("must be "), value


def test_a_value_renders_as_written_in_json() -> None:
    cases = [("integer", 3, "3"), ("number", 0.5, "0.5"), ("boolean", False, "false"),
             ("array", ["a", 1], '["a", 1]'), ("object", {"k": "é"}, '{"k": "é"}'),
             ("string", "x", "x")]
    for type_, value, text in cases:
        assert parse_prompt(typed(f"{{type: {type_}}}")).render(v=value) == f"[{text}]"


@pytest.mark.parametrize(("spec", "good", "bad"), [
    ("{enum: [formal, casual]}", "casual", ["Casual", "", 3]),
    ("{type: integer, enum: [1, 2, 3]}", 2, [4, 2.5, True, "2"]),
    ("{type: number, enum: [0.5, 1]}", 1.0, [0.25, True]),
    ("{type: boolean, enum: [true]}", True, [False, 1]),
    ("{type: string, enum: ['1', '2']}", "1", [1, "3"]),
])
def test_enum_values(spec: str, good: Any, bad: list[Any]) -> None:
    prompt = parse_prompt(typed(spec))
    assert prompt.render(v=good).startswith("[")
    for value in bad:
        with pytest.raises(RenderError) as info:
            prompt.render(v=value)
        assert "must be" in info.value.invalid["v"], value


def test_every_problem_is_named_in_one_error() -> None:
    prompt = parse_prompt(
        "variables:\n  n: {type: integer}\n  tone: {enum: [formal, casual]}\n"
        "  topic: {required: true}\n"
        "template: '{{ n }} {{ tone }} {{ topic }}'\n")
    with pytest.raises(RenderError) as info:
        prompt.render(n="x", tone="rude", extra=1)
    error = info.value
    assert error.missing == ["topic"]
    assert error.unknown == ["extra"]
    assert set(error.invalid) == {"n", "tone"}
    for word in ("topic", "extra", "'n' must be an integer", "'tone' must be one of"):
        assert word in str(error)


@pytest.mark.parametrize(("spec", "message"), [
    ("{type: integer, default: x}", "default must be an integer, not \"x\""),
    ("{type: integer, default: 2.5}", "default must be an integer, not 2.5"),
    ("{type: boolean, default: 'yes'}", "default must be a boolean, not \"yes\""),
    ("{type: string, default: 3}", "default must be a string, not 3"),
    ("{type: array, default: {a: 1}}", "default must be an array"),
    ("{enum: [a, b], default: c}", "default must be one of \"a\", \"b\", not \"c\""),
    ("{type: integer, enum: [1, 2], default: 3}", "default must be one of 1, 2, not 3"),
    ("{type: int}", "type 'int' is not one of string, integer, number, boolean, array, object"),
    ("{type: [integer]}", "type 'a list' is not one of"),
    ("{enum: []}", "enum must be a non-empty list of allowed values, not an empty list"),
    ("{enum: a}", "enum must be a non-empty list"),
    ("{type: integer, enum: [1, x]}", "each enum value must be an integer, not \"x\""),
    ("{enum: [a, a]}", "enum lists 'a' twice"),
    ("{default: [a]}", "default must be a single value"),
])
def test_lint_refuses_declarations_that_do_not_hold(spec: str, message: str) -> None:
    found = problems(typed(spec))
    assert any(message in text for _, text in found), found
    assert all(line == 2 for line, text in found if message in text), found


@pytest.mark.parametrize("spec", [
    "{type: integer, default: 3}",
    "{type: number, default: 3}",
    "{type: number, default: 0.5}",
    "{type: boolean, default: false}",
    "{type: array, default: [a, 1]}",
    "{type: object, default: {a: 1}}",
    "{type: string, default: '3'}",
    "{enum: [a, b], default: b}",
    "{type: integer, enum: [1, 2], default: 2}",
])
def test_defaults_that_match_are_valid_and_render(spec: str) -> None:
    prompt = parse_prompt(typed(spec))
    assert prompt.render().startswith("[")


@pytest.mark.parametrize(("type_", "text", "value"), [
    ("integer", "3", 3), ("integer", "-12", -12), ("integer", " 7 ", 7),
    ("number", "2.5", 2.5), ("number", "4", 4), ("number", "-1e3", -1000.0),
    ("boolean", "true", True), ("boolean", "False", False), ("boolean", "yes", True),
    ("boolean", "0", False),
    ("array", '["a", 1]', ["a", 1]), ("object", '{"k": 1}', {"k": 1}),
    ("string", "3", "3"), (None, "3", "3"),
])
def test_command_line_strings_become_the_declared_type(
        type_: str | None, text: str, value: Any) -> None:
    spec = {"type": type_} if type_ else {}
    converted = from_command_line(text, spec)
    assert converted == value and type(converted) is type(value)
    assert value_problem(converted, spec) is None


@pytest.mark.parametrize(("type_", "text", "message"), [
    ("integer", "x", 'must be an integer, not "x"'),
    ("integer", "2.5", 'must be an integer, not "2.5"'),
    ("integer", "", 'must be an integer, not ""'),
    ("number", "abc", 'must be a number, not "abc"'),
    ("number", "nan", 'must be a number, not "nan"'),
    ("number", "inf", 'must be a number, not "inf"'),
    ("boolean", "maybe", 'must be true or false, not "maybe"'),
    ("array", "a,b", "must be an array written as JSON"),
    ("array", '{"a": 1}', "must be an array written as JSON"),
    ("object", "[]", "must be an object written as JSON"),
])
def test_command_line_strings_that_are_not_the_type_are_refused(
        type_: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[")):
        from_command_line(text, {"type": type_})


def test_an_untyped_variable_takes_text_and_numbers_as_before() -> None:
    prompt = parse_prompt(typed("{required: true}"))
    assert prompt.render(v=3) == "[3]"
    assert prompt.render(v="x") == "[x]"
    with pytest.raises(RenderError) as info:
        prompt.render(v=["a"])
    assert "declare its type" in info.value.invalid["v"]
    assert "type" not in prompt.variables["v"]  # nothing declared, nothing stored
