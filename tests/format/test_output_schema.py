"""output_schema (SPEC §13): a valid JSON Schema (Draft 2020-12) or the file is invalid, with the
line of what is wrong; validate_output checks a model's answer against it."""

from __future__ import annotations

import pytest

from promptsync.errors import OutputInvalid, PromptFileError, PromptSyncError
from promptsync.format.prompt import parse_prompt

ANSWER = """\
template: Classify the ticket.
output_schema:
  type: object
  properties:
    label: {type: string, enum: [billing, bug, other]}
    confidence: {type: number, minimum: 0, maximum: 1}
  required: [label]
  additionalProperties: false
"""


def problems(source: str) -> list[tuple[int | None, str]]:
    with pytest.raises(PromptFileError) as info:
        parse_prompt(source, "p.yaml")
    return [(p.line, p.message) for p in info.value.problems]


def test_a_valid_schema_is_kept_in_the_prompt_and_its_json() -> None:
    prompt = parse_prompt(ANSWER)
    assert prompt.output_schema is not None and prompt.output_schema is not True
    assert isinstance(prompt.output_schema, dict)
    assert prompt.output_schema["required"] == ["label"]
    assert prompt.to_dict()["output_schema"] == prompt.output_schema
    assert parse_prompt("template: x\n").to_dict()["output_schema"] is None


@pytest.mark.parametrize(("schema", "line", "message"), [
    ("  type: objekt\n", 3, "at /type: 'objekt' is not valid under any of the given schemas"),
    ("  type: object\n  properties:\n    a: {minimum: ten}\n", 5,
     "at /properties/a/minimum: 'ten' is not of type 'number'"),
    ("  required: label\n", 3, "at /required: 'label' is not of type 'array'"),
    ("  type: object\n  properties: [a, b]\n", 4, "at /properties"),
])
def test_an_invalid_schema_is_refused_with_its_line(schema: str, line: int, message: str
                                                    ) -> None:
    found = problems("template: x\noutput_schema:\n" + schema)
    assert len(found) == 1, found
    assert found[0][0] == line, found
    assert "output_schema is not a valid JSON Schema (Draft 2020-12)" in found[0][1]
    assert message in found[0][1], found


@pytest.mark.parametrize("value", ["[a, b]", "3", "some text"])
def test_a_schema_that_is_not_a_mapping_is_refused(value: str) -> None:
    found = problems(f"template: x\noutput_schema: {value}\n")
    assert found[0][0] == 2 and "output_schema must be a JSON Schema" in found[0][1]


def test_validate_output_accepts_what_fits_and_names_every_problem() -> None:
    prompt = parse_prompt(ANSWER)
    assert prompt.validate_output({"label": "bug"}) == {"label": "bug"}
    assert prompt.validate_output('{"label": "billing", "confidence": 0.5}') == {
        "label": "billing", "confidence": 0.5}
    with pytest.raises(OutputInvalid) as info:
        prompt.validate_output({"label": "spam", "confidence": 2, "extra": 1})
    assert len(info.value.problems) == 3, info.value.problems
    text = str(info.value)
    assert "'spam' is not one of" in text and "2 is greater than the maximum of 1" in text
    assert "'extra' was unexpected" in text
    with pytest.raises(OutputInvalid, match="required property"):
        prompt.validate_output({})
    with pytest.raises(OutputInvalid, match="not JSON"):
        prompt.validate_output("label: bug")


def test_validate_output_without_a_schema_says_so() -> None:
    with pytest.raises(PromptSyncError, match="declares no output_schema"):
        parse_prompt("template: x\n").validate_output({})


def test_a_boolean_schema_is_a_schema() -> None:
    assert parse_prompt("template: x\noutput_schema: true\n").validate_output([1]) == [1]
