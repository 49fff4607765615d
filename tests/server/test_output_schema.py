"""output_schema through the real app (SQLite and Postgres): refused at push with its line when
it is not a valid JSON Schema, carried in the fetch JSON, checked by the SDK's validate_output,
also when the SDK serves a prompt from an export bundle."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from promptsync import Client
from promptsync.client.bundle import write_bundle
from promptsync.errors import OutputInvalid, ServerUnreachable
from tests.support.app import IN_PROCESS
from tests.support.lifecycle import API, Lab

CLASSIFY = """\
template: Classify this ticket.
output_schema:
  type: object
  properties:
    label: {enum: [billing, bug]}
  required: [label]
"""


def test_push_refuses_a_schema_that_is_not_json_schema_with_its_line(lab: Lab) -> None:
    bad = CLASSIFY.replace("required: [label]", "required: label")
    answer = lab.client().post(f"{API}/{lab.slug()}", json={"source": bad},
                               headers=lab.account.headers("editor"))
    assert answer.status_code == 422
    (problem,) = answer.get_json()["problems"]
    assert problem["line"] == 6
    assert "output_schema is not a valid JSON Schema" in problem["message"]


def test_fetch_json_carries_the_schema_and_the_sdk_checks_answers(lab: Lab, tmp_path: Path
                                                                   ) -> None:
    slug = lab.slug()
    lab.push(slug, CLASSIFY)
    fetched = lab.client().get(f"/api/v1/prompts/{slug}", headers=lab.account.headers("viewer"))
    assert fetched.get_json()["output_schema"]["required"] == ["label"]
    plain = lab.slug()
    lab.push(plain)
    fetched = lab.client().get(f"{API}/{plain}", headers=lab.account.headers("viewer"))
    assert fetched.get_json()["output_schema"] is None
    sdk = Client(IN_PROCESS, api_key=lab.account.keys["viewer"], project="demo",
                 transport=httpx.WSGITransport(app=lab.app))
    prompt = sdk.get(slug)
    assert prompt.validate_output('{"label": "bug"}') == {"label": "bug"}
    with pytest.raises(OutputInvalid, match="'spam' is not one of"):
        prompt.validate_output({"label": "spam"})
    # The bundle's copy checks answers the same way when the server is out of reach.
    bundle = tmp_path / "bundle.json"
    classify = lab.client().get(f"{API}/{slug}", headers=lab.account.headers("viewer"))
    write_bundle(bundle, "demo", None, [fetched.get_json(), classify.get_json()])
    offline = Client("http://127.0.0.1:9", api_key="psk_x", project="demo", bundle=bundle,
                     timeout=0.5)
    served = offline.get(slug)
    with pytest.raises(OutputInvalid, match="required property"):
        served.validate_output({})
    with pytest.raises(ServerUnreachable):
        offline.get("no/such")
