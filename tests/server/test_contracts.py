"""Breaking changes (SPEC §13's table) through the real app on SQLite and Postgres: moving the
protected `production` label to a version that breaks the prompt's contract answers 409
contract_break listing the changes, unless allow_breaking; other moves are not judged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.lifecycle import API, Lab

BASE = """\
variables:
  name: {type: string, required: true}
  tone: {enum: [formal, casual], default: casual}
  n: {type: number, default: 1}
template: "{{ name }} {{ tone }} {{ n }}"
output_schema:
  type: object
  properties:
    label: {type: string, enum: [a, b]}
  required: [label]
"""


def variant(**replace: str) -> str:
    source = BASE
    for old, new in replace.items():
        old_text = {"name": "  name: {type: string, required: true}\n",
                    "tone": "  tone: {enum: [formal, casual], default: casual}\n",
                    "n": "  n: {type: number, default: 1}\n",
                    "template": 'template: "{{ name }} {{ tone }} {{ n }}"\n',
                    "schema": "    label: {type: string, enum: [a, b]}\n  required: [label]\n",
                    }[old]
        assert old_text in source
        source = source.replace(old_text, new)
    return source


# (case, the new version's source, the kinds of change expected; [] means the move is allowed)
CASES: list[tuple[str, str, list[str]]] = [
    ("new required variable",
     variant(n="  n: {type: number, default: 1}\n  topic: {required: true}\n",
             template='template: "{{ name }} {{ tone }} {{ n }} {{ topic }}"\n'),
     ["variable_required"]),
    ("a default dropped makes it required",
     variant(tone="  tone: {enum: [formal, casual], required: true}\n"), ["variable_required"]),
    ("removed variable",
     variant(n="", template='template: "{{ name }} {{ tone }}"\n'), ["variable_removed"]),
    ("narrowed type", variant(n="  n: {type: integer, default: 1}\n"), ["type_narrowed"]),
    ("narrowed enum", variant(tone="  tone: {enum: [formal], default: formal}\n"),
     ["enum_narrowed"]),
    ("enum where there was none",
     variant(name="  name: {type: string, required: true, enum: [ann, bob]}\n"),
     ["enum_narrowed"]),
    ("output_schema requires more",
     variant(schema="    label: {type: string, enum: [a, b]}\n    score: {type: number}\n"
                    "  required: [label, score]\n"), ["output_schema_stricter"]),
    ("output_schema enum narrowed",
     variant(schema="    label: {type: string, enum: [a]}\n  required: [label]\n"),
     ["output_schema_stricter"]),
    ("several at once",
     variant(n="", template='template: "{{ name }} {{ tone }}"\n',
             tone="  tone: {enum: [formal], default: formal}\n"),
     ["variable_removed", "enum_narrowed"]),
    # Not breaking: what every render and answer accepted before is still accepted.
    ("optional variable added",
     variant(n="  n: {type: number, default: 1}\n  extra: {default: x}\n",
             template='template: "{{ name }} {{ tone }} {{ n }} {{ extra }}"\n'), []),
    ("enum widened", variant(tone="  tone: {enum: [formal, casual, terse], default: casual}\n"),
     []),
    ("type widened", variant(n="  n: {default: 1}\n"), []),
    ("required made optional", variant(name="  name: {type: string, default: you}\n"), []),
    ("output_schema loosened",
     variant(schema="    label: {type: string}\n"), []),
    ("only the text changed",
     variant(template='template: "Hi {{ name }} {{ tone }} {{ n }}"\n'), []),
]


def move(lab: Lab, slug: str, version: int, label: str = "production", **body: Any) -> Any:
    return lab.client().put(f"{API}/{slug}/-/labels/{label}", json={"version": version, **body},
                            headers=lab.account.headers("admin"))


@pytest.mark.parametrize(("case", "source", "kinds"), CASES, ids=[c[0] for c in CASES])
def test_moving_production_judges_the_contract(lab: Lab, case: str, source: str,
                                                kinds: list[str]) -> None:
    slug = lab.slug()
    lab.push(slug, BASE)
    assert move(lab, slug, 1).status_code == 200  # a new label breaks nobody
    lab.push(slug, source)
    answer = move(lab, slug, 2)
    if not kinds:
        assert answer.status_code == 200, answer.get_json()
        return
    assert answer.status_code == 409, answer.get_json()
    body = answer.get_json()
    assert body["error"] == "contract_break"
    assert sorted(c["kind"] for c in body["changes"]) == sorted(kinds), body["changes"]
    for change in body["changes"]:
        assert change["detail"] in body["detail"]
    fetched = lab.client().get(f"{API}/{slug}?label=production",
                               headers=lab.account.headers("viewer"))
    assert fetched.get_json()["version"] == 1  # not moved
    forced = move(lab, slug, 2, allow_breaking=True)
    assert forced.status_code == 200, forced.get_json()
    assert forced.get_json()["version"] == 2


def test_unprotected_labels_are_not_judged_and_the_flag_is_a_boolean(lab: Lab) -> None:
    slug = lab.slug()
    lab.push(slug, BASE)
    assert move(lab, slug, 1, "staging").status_code == 200
    lab.push(slug, variant(n="", template='template: "{{ name }} {{ tone }}"\n'))
    assert move(lab, slug, 2, "staging").status_code == 200
    refused = move(lab, slug, 2, allow_breaking="yes")
    assert refused.status_code == 400 and refused.get_json()["field"] == "allow_breaking"


def test_the_change_names_the_variable_in_words(lab: Lab) -> None:
    slug = lab.slug()
    lab.push(slug, BASE)
    move(lab, slug, 1)
    lab.push(slug, variant(n="  n: {type: integer, default: 1}\n"))
    (change,) = move(lab, slug, 2).get_json()["changes"]
    assert change == {"kind": "type_narrowed", "variable": "n",
                      "detail": "variable 'n' no longer takes number values "
                                "(type number -> integer)"}
