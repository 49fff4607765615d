"""The declared shapes (webapi/shapes/): each body route validates with the shape
/openapi.json describes, every refusal is a 400 naming its field, and the description's
components are the shapes' own JSON Schema."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.app import GREETING, GREETING_URL, Account, login, make_account
from webapi.openapi.components import component_schemas
from webapi.openapi.document import openapi_document
from webapi.shapes import bodies
from webapi.shapes.bodies import BODIES, Body
from webapi.shapes.refusal import validated

COMMIT = "5d41402abc4b2a76b9719d911017c592a1b2c3d4"
SHA256_COMMIT = "9f2c4b1e5d8a7c6b3e0f1a2d4c5b6a7988796a5b4c3d2e1f0a9b8c7d6e5f4a3b"
HOOK = "/api/v1/projects/demo/webhooks"


@dataclass(frozen=True)
class Route:
    """A route that takes a body, the shape it validates with, and who sends it."""

    operation: str
    method: str
    path: str
    shape: type[Body]
    caller: str  # an API key's role, "session" or "anonymous"


ROUTES = [
    Route("signup", "POST", "/api/v1/auth/signup", bodies.SignUp, "anonymous"),
    Route("login", "POST", "/api/v1/auth/login", bodies.Credentials, "anonymous"),
    Route("change_password", "POST", "/api/v1/auth/password", bodies.PasswordChange, "session"),
    Route("create_project", "POST", "/api/v1/projects", bodies.NewProject, "session"),
    Route("set_member", "PUT", "/api/v1/projects/demo/members/bob@example.com",
          bodies.MemberRole, "admin"),
    Route("create_key", "POST", "/api/v1/projects/demo/keys", bodies.NewKey, "admin"),
    Route("push_prompt", "POST", GREETING_URL, bodies.Push, "editor"),
    Route("push_batch", "POST", "/api/v1/projects/demo/prompts", bodies.Batch, "editor"),
    Route("move_label", "PUT", f"{GREETING_URL}/-/labels/staging", bodies.LabelMove, "editor"),
    Route("render_prompt", "POST", f"{GREETING_URL}/-/render", bodies.Render, "viewer"),
    Route("put_settings", "PUT", "/api/v1/projects/demo/settings",
          bodies.ReleaseSettingsChange, "admin"),
    Route("create_webhook", "POST", HOOK, bodies.NewWebhook, "admin"),
    Route("update_webhook", "PATCH", f"{HOOK}/1", bodies.WebhookChange, "admin"),
    Route("import_project", "POST", "/api/v1/projects/demo/import", bodies.Export, "admin"),
]


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for item in openapi_document()["paths"].values():
        for operation in item.values():
            yield operation["operationId"], operation


def test_every_body_operation_is_listed_here_with_its_shape() -> None:
    with_body = {name: op["requestBody"] for name, op in _operations() if "requestBody" in op}
    # The key shorthand (/prompts…) takes the same bodies as the project routes.
    listed = {r.operation: r.shape for r in ROUTES}
    for name, body in with_body.items():
        shape = listed[name.removeprefix("key_")]
        assert body["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{shape.__name__}"}, name
    assert {name.removeprefix("key_") for name in with_body} == set(listed)
    assert set(BODIES) == set(listed.values())


@pytest.mark.parametrize("shape", BODIES, ids=lambda s: s.__name__)
def test_each_documented_example_passes_its_own_shape(shape: type[Body]) -> None:
    examples = [op["requestBody"]["content"]["application/json"]["example"]
                for _, op in _operations() if op.get("requestBody", {}).get("content", {}).get(
                    "application/json", {}).get("schema", {}).get("$ref", "").endswith(
                    "/" + shape.__name__)]
    assert examples and all(example == shape.EXAMPLE for example in examples)
    validated(shape, shape.EXAMPLE)  # a 400 here would fail the test


def test_components_are_the_shapes_json_schema() -> None:
    components = openapi_document()["components"]["schemas"]
    assert components == component_schemas()
    for shape in BODIES:
        schema = components[shape.__name__]
        # Every field the class declares is in the description, under its JSON name.
        assert set(schema["properties"]) == {f.alias or name
                                             for name, f in shape.model_fields.items()}
        required = {f.alias or name for name, f in shape.model_fields.items()
                    if f.is_required()}
        assert set(schema.get("required", [])) == required
    assert _resolve(components["Git"]["properties"]["commit"])["pattern"] == (
        "^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")


def test_a_field_added_to_a_shape_shows_up_in_the_description() -> None:
    class Extended(bodies.LabelMove):
        note: str | None = None

    assert "note" in Extended.model_json_schema()["properties"]
    assert "note" not in component_schemas()["LabelMove"]["properties"]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema itself for an anyOf [X, null] (a field that may be null), or a $ref's."""
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        schema = component_schemas()[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _mutations(shape: type[Body]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(what, body, the field a 400 must name): the example with one field made wrong."""
    schema = component_schemas()[shape.__name__]
    for name, field in schema["properties"].items():
        spec = _resolve(field)
        kind = spec.get("type")
        wrong: list[tuple[str, Any]] = []
        if kind == "string":
            wrong += [("a number", 5), ("an object", {"x": "y"}), ("an array", ["x"])]
            if "maxLength" in spec:
                wrong.append(("too long", "a" * (spec["maxLength"] + 1)))
        elif kind == "integer":
            wrong += [("a boolean", True), ("text", "1"), ("a float", 1.0), ("nested",
                                                                              {"n": 1})]
            if "maximum" in spec:
                wrong.append(("too large", spec["maximum"] + 1))
            if "minimum" in spec:
                wrong.append(("too small", spec["minimum"] - 1))
        elif kind == "boolean":
            wrong += [("an integer", 1), ("text", "true"), ("nested", {"b": True})]
        elif kind == "object":
            wrong += [("text", "x"), ("an array", [{}])]
        elif kind == "array":
            wrong += [("text", "x"), ("an object", {"0": "x"})]
            if "maxItems" in spec:
                wrong.append(("too many", ["x"] * (spec["maxItems"] + 1)))
        for what, value in wrong:
            yield f"{name} {what}", {**copy.deepcopy(shape.EXAMPLE), name: value}, name
        if name in schema.get("required", []):
            body = copy.deepcopy(shape.EXAMPLE)
            body.pop(name, None)
            yield f"{name} missing", body, name


def _client(app: Flask, account: Account, caller: str) -> tuple[FlaskClient, dict[str, str]]:
    client = app.test_client()
    if caller == "anonymous":
        return client, {}
    if caller == "session":
        return client, {"X-CSRF-Token": login(client, account.email)}
    return client, account.headers(caller)


def test_every_wrong_field_of_every_body_is_a_400_naming_it(sqlite_app: Flask) -> None:
    account = make_account(sqlite_app)
    failures = []
    checked = 0
    for route in ROUTES:
        client, headers = _client(sqlite_app, account, route.caller)
        for what, body, name in _mutations(route.shape):
            if route.shape is bodies.Batch and "too many" in what:
                continue  # past the batch limit is a 413 (below)
            answer = client.open(route.path, method=route.method, json=body, headers=headers)
            got = answer.get_json()
            checked += 1
            if answer.status_code != 400 or got.get("field") != name or (
                    f"'{name}'" not in got["detail"]):
                failures.append(f"{route.operation}: {what}: {answer.status_code} {got}")
    assert not failures, "\n".join(failures)
    assert checked > 150


@pytest.mark.parametrize(("body", "detail"), [
    ({"version": "1"}, "'version' must be an integer."),
    ({"version": True}, "'version' must be an integer."),
    ({}, "'version' is required."),
    ({"version": None}, "'version' must be an integer, not null."),
    ({"version": 0}, "'version' must be 1 or more."),
    ({"version": 2**31}, "'version' is out of range."),
    ({"version": 1, "reason": "two\nlines"},
     "'reason' must be one line, without a line break, tab or control character."),
    ({"version": 1, "reason": "r" * 301}, "'reason' must be at most 300 characters."),
    ({"version": 1, "allow_breaking": "yes"}, "'allow_breaking' must be true or false."),
])
def test_a_refusal_is_a_readable_sentence(sqlite_app: Flask, body: dict[str, Any],
                                          detail: str) -> None:
    account = make_account(sqlite_app)
    answer = sqlite_app.test_client().put(f"{GREETING_URL}/-/labels/staging", json=body,
                                          headers=account.headers("editor"))
    assert answer.status_code == 400
    assert answer.get_json() == {"error": "bad_request", "detail": detail,
                                 "field": detail.split("'")[1]}


def test_push_refusals_word_the_limits(sqlite_app: Flask) -> None:
    account = make_account(sqlite_app)
    client, editor = sqlite_app.test_client(), account.headers("editor")
    for body, detail in [
        ({"source": GREETING, "message": "m" * 10_001},
         "'message' must be at most 10,000 characters."),
        ({"source": GREETING, "parent_version": -1}, "'parent_version' must be 0 or more."),
        ({"source": GREETING, "git": {"commit": "abc"}},
         "'git.commit' must be a commit id: 40 or 64 hexadecimal digits."),
        ({"source": GREETING, "git": {"commit": COMMIT, "author": "eve"}},
         "'git' has no field 'author'."),
        ({"source": GREETING, "renamed_from_version": 1},
         "'renamed_from_version' goes with 'renamed_from'."),
        ({"message": "m"}, "'source' is required."),
    ]:
        answer = client.post(GREETING_URL, json=body, headers=editor)
        assert answer.status_code == 400 and answer.get_json()["detail"] == detail, body


def test_settings_refuse_an_unknown_field_by_name(sqlite_app: Flask) -> None:
    account = make_account(sqlite_app)
    answer = sqlite_app.test_client().put("/api/v1/projects/demo/settings", json={
        "approvals": 1}, headers=account.headers("admin"))
    assert answer.status_code == 400
    assert answer.get_json() == {"error": "bad_request", "detail": "Unknown field 'approvals'.",
                                 "field": "approvals"}


def test_a_batch_judges_each_item_alone(sqlite_app: Flask) -> None:
    account = make_account(sqlite_app)
    client, editor = sqlite_app.test_client(), account.headers("editor")
    items = [{"slug": "good", "source": GREETING}, {"slug": "bad", "source": 5},
             {"slug": "worse", "source": GREETING, "parent_version": True}]
    answer = client.post("/api/v1/projects/demo/prompts", json={"prompts": items},
                         headers=editor)
    assert answer.status_code == 200, answer.get_json()
    good, bad, worse = answer.get_json()["results"]
    assert good["status"] == "created"
    assert (bad["status"], bad["field"], bad["detail"]) == (
        "error", "source", "'source' must be a string.")
    assert (worse["status"], worse["field"]) == ("error", "parent_version")
    for body, status in [({"prompts": "x"}, 400), ({}, 400), ({"prompts": [5]}, 400),
                         ({"prompts": [{"source": GREETING}]}, 400),
                         ({"prompts": [{"slug": "a", "source": GREETING}] * 501}, 413)]:
        assert client.post("/api/v1/projects/demo/prompts", json=body,
                           headers=editor).status_code == status, body


def test_a_sha256_repositorys_commit_is_stored_and_exported(sqlite_app: Flask) -> None:
    account = make_account(sqlite_app)
    client = sqlite_app.test_client()
    git = {"commit": SHA256_COMMIT, "branch": "main", "dirty": False, "path": "a.yaml"}
    answer = client.post(GREETING_URL, json={"source": GREETING, "git": git},
                         headers=account.headers("editor"))
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["git"] == git
    for commit in (SHA256_COMMIT[:-1], SHA256_COMMIT + "0", "g" * 64):
        refused = client.post(GREETING_URL, json={"source": GREETING, "git": {"commit": commit}},
                              headers=account.headers("editor"))
        assert refused.status_code == 400 and refused.get_json()["field"] == "git.commit"
    export = client.get("/api/v1/projects/demo/export", headers=account.headers("admin"))
    document = export.get_json()
    assert document["prompts"][0]["versions"][0]["git"]["commit"] == SHA256_COMMIT
    # A newer server's export: keys this one does not know are no reason to refuse it.
    document["written_by"] = {"server": "promptsync 9"}
    document["prompts"][0]["versions"][0]["reviewed_by"] = "bob@example.com"
    document["prompts"][0]["pinned"] = True
    other = make_account(sqlite_app, "bob@example.com", "copy")
    imported = client.post("/api/v1/projects/copy/import", json=document,
                           headers=other.headers("admin"))
    assert imported.status_code == 201, imported.get_json()
    fetched = client.get("/api/v1/projects/copy/prompts/support/greeting",
                         headers=other.headers("viewer"))
    assert fetched.get_json()["git"]["commit"] == SHA256_COMMIT


def test_an_export_with_the_optional_release_keys_passes_its_shape() -> None:
    document = {**bodies.Export.EXAMPLE, "label_history": [{"slug": "a", "label": "b"}],
                "settings": {"approvals_required": 1}, "promotions": [], "later": 1}
    validated(bodies.Export, document)
