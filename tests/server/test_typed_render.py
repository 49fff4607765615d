"""Typed variables through the real app (SQLite and Postgres): a default that breaks its type is
refused at push with its line, and the server's render answers 422 naming every problem."""

from __future__ import annotations

from tests.support.lifecycle import API, Lab

TYPED = """\
variables:
  n: {type: integer, required: true}
  tone: {enum: [formal, casual], default: casual}
  tags: {type: array, default: []}
  urgent: {type: boolean, default: false}
template: "{{ n }} {{ tone }} {{ tags }} {{ urgent }}"
"""


def test_push_refuses_a_default_of_the_wrong_type_with_its_line(lab: Lab) -> None:
    source = "variables:\n  n: {type: integer, default: many}\ntemplate: '{{ n }}'\n"
    answer = lab.client().post(f"{API}/{lab.slug()}", json={"source": source},
                               headers=lab.account.headers("editor"))
    assert answer.status_code == 422, answer.get_json()
    body = answer.get_json()
    assert body["error"] == "invalid_prompt"
    assert body["problems"][0]["line"] == 2
    assert 'default must be an integer, not "many"' in body["problems"][0]["message"]


def test_render_checks_values_against_their_types(lab: Lab) -> None:
    slug = lab.slug()
    stored = lab.push(slug, TYPED)
    assert stored["variables"]["n"] == {"description": None, "default": None, "required": True,
                                        "type": "integer"}
    assert stored["variables"]["tone"]["enum"] == ["formal", "casual"]
    url = f"{API}/{slug}/-/render"
    headers = lab.account.headers("viewer")
    ok = lab.client().post(url, json={"variables": {"n": 3, "tags": ["a", 1], "urgent": True}},
                           headers=headers)
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["text"] == '3 casual ["a", 1] true'
    bad = lab.client().post(url, json={"variables": {"n": "3", "tone": "rude", "tags": "a",
                                                     "other": 1}}, headers=headers)
    assert bad.status_code == 422
    body = bad.get_json()
    assert body["error"] == "invalid_variables"
    assert body["unknown"] == ["other"] and body["missing"] == []
    assert set(body["invalid"]) == {"n", "tone", "tags"}
    for name in ("'n' must be an integer", "'tone' must be one of", "'tags' must be an array",
                 "other"):
        assert name in body["detail"]
    missing = lab.client().post(url, json={"variables": {"urgent": "yes"}}, headers=headers)
    assert missing.status_code == 422
    assert missing.get_json()["missing"] == ["n"]
    assert "'urgent' must be a boolean" in missing.get_json()["detail"]
