"""One error shape everywhere: JSON {"error": code, "detail": sentence}, never HTML or a redirect.

One walk over every status the API answers with (400 401 403 404 405 409 410 413 422 429, and 500)
across endpoints; every refused request must leave the database as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import GREETING, login, make_account, running_app, signup, snapshot

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid_prompt",
    429: "rate_limited", 500: "internal_error",
}
PROMPT = "/api/v1/projects/demo/prompts/support/greeting"
GONE = "/api/v1/projects/demo/prompts/support/archived"


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """The one shape, with the status's code unless another is named."""
    raw = response.get_data(as_text=True)
    assert response.status_code == status, raw
    assert response.mimetype == "application/json", raw
    assert "Location" not in response.headers
    assert "<html" not in raw.lower()
    body = response.get_json()
    assert isinstance(body, dict)
    assert body["error"] == (code or CODES[status])
    assert isinstance(body["detail"], str) and body["detail"].strip()
    return body


@dataclass
class Probe:
    """One request expected to fail, and what else its answer must show."""

    name: str
    method: str
    path: str
    status: int
    code: str | None = None
    json: Any = None
    data: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cookie: bool = False  # sent by the logged-in client (else no cookie at all)
    check: Callable[[TestResponse, dict[str, Any]], object] | None = None


def _problems_have_lines(response: TestResponse, body: dict[str, Any]) -> None:
    assert body["problems"], body
    for problem in body["problems"]:
        assert isinstance(problem["message"], str) and problem["message"]
        assert isinstance(problem["line"], int) and problem["line"] >= 1, problem


def _allow(*methods: str) -> Callable[[TestResponse, dict[str, Any]], None]:
    def check(response: TestResponse, body: dict[str, Any]) -> None:
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert set(methods) <= allowed, allowed

    return check


def _probes(key: dict[str, dict[str, str]], csrf: dict[str, str]) -> list[Probe]:
    admin, editor, viewer = key["admin"], key["editor"], key["viewer"]
    json_type = {"Content-Type": "application/json"}
    bad_yaml = "description: broken\ntemplate: |\n  Hello\nmodel: [unclosed\n"
    return [
        # 400: the request itself is malformed.
        Probe("malformed JSON", "POST", PROMPT, 400, data="{not json",
              headers={**admin, **json_type}),
        Probe("JSON array body", "POST", PROMPT, 400, json=[{"source": GREETING}], headers=admin),
        Probe("JSON string body", "POST", PROMPT, 400, json="source", headers=admin),
        Probe("empty body", "POST", PROMPT, 400, headers=admin),
        Probe("no source", "POST", PROMPT, 400, json={"message": "m"}, headers=admin),
        Probe("source: 5", "POST", PROMPT, 400, json={"source": 5}, headers=admin),
        Probe("parent_version: true", "POST", PROMPT, 400,
              json={"source": GREETING + "#\n", "parent_version": True}, headers=admin),
        Probe("parent_version: -1", "POST", PROMPT, 400,
              json={"source": GREETING + "#\n", "parent_version": -1}, headers=admin),
        Probe("message: 5", "POST", PROMPT, 400, json={"source": GREETING + "#\n", "message": 5},
              headers=admin),
        Probe("git: string", "POST", PROMPT, 400, json={"source": GREETING + "#\n", "git": "x"},
              headers=admin),
        Probe("version: '1'", "PUT", f"{PROMPT}/-/labels/staging", 400, json={"version": "1"},
              headers=admin),
        Probe("version: 1.0", "PUT", f"{PROMPT}/-/labels/staging", 400, json={"version": 1.0},
              headers=admin),
        Probe("version: 2**40", "PUT", f"{PROMPT}/-/labels/staging", 400,
              json={"version": 2**40}, headers=admin),
        Probe("bad label name", "PUT", f"{PROMPT}/-/labels/Not%20OK", 400, json={"version": 1},
              headers=admin),
        Probe("both version and label", "GET", f"{PROMPT}?version=1&label=staging", 400,
              headers=viewer),
        Probe("render with both", "POST", f"{PROMPT}/-/render", 400,
              json={"variables": {"topic": "x"}, "version": 1, "label": "staging"}, headers=viewer),
        Probe("render variables: list", "POST", f"{PROMPT}/-/render", 400,
              json={"variables": ["topic"]}, headers=viewer),
        Probe("version=abc", "GET", f"{PROMPT}?version=abc", 400, headers=viewer),
        Probe("version=0", "GET", f"{PROMPT}?version=0", 400, headers=viewer),
        Probe("version=²", "GET", f"{PROMPT}?version=%C2%B2", 400, headers=viewer),
        Probe("bad cursor (manifest)", "GET", "/api/v1/projects/demo/prompts?cursor=!!!", 400,
              headers=viewer),
        Probe("bad cursor (events)", "GET", "/api/v1/projects/demo/events?cursor=zzzz", 400,
              headers=viewer),
        Probe("bad cursor (versions)", "GET", f"{PROMPT}/-/versions?cursor=bm90LWEtbnVtYmVy",
              400, headers=viewer),
        Probe("limit=0", "GET", "/api/v1/projects/demo/prompts?limit=0", 400, headers=viewer),
        Probe("limit=1001", "GET", "/api/v1/projects/demo/events?limit=1001", 400,
              headers=viewer),
        Probe("limit=-1", "GET", f"{PROMPT}/-/versions?limit=-1", 400, headers=viewer),
        Probe("limit=ten", "GET", "/api/v1/projects/demo/prompts?limit=ten", 400,
              headers=viewer),
        Probe("batch not a list", "POST", "/api/v1/projects/demo/prompts", 400,
              json={"prompts": {"slug": "a"}}, headers=admin),
        Probe("batch item not an object", "POST", "/api/v1/projects/demo/prompts", 400,
              json={"prompts": ["a"]}, headers=admin),
        Probe("signup bad email", "POST", "/api/v1/auth/signup", 400,
              json={"email": "not-an-email", "password": "long enough"}),
        Probe("signup password: 5", "POST", "/api/v1/auth/signup", 400,
              json={"email": "new@example.com", "password": 12345678}),
        Probe("project slug", "POST", "/api/v1/projects", 400, json={"slug": "Bad Slug"},
              headers=csrf, cookie=True),
        Probe("key role", "POST", "/api/v1/projects/demo/keys", 400,
              json={"name": "k", "role": "root"}, headers=admin),
        Probe("NUL in a query", "GET", f"{PROMPT}?label=a%00", 400, headers=viewer),
        Probe("NUL in JSON", "POST", "/api/v1/projects/demo/keys", 400,
              json={"name": "a\x00", "role": "viewer"}, headers=admin),
        Probe("shorthand without a key", "GET", "/api/v1/prompts/support/greeting", 400,
              headers=csrf, cookie=True),
        # 401: no or bad credentials, never a redirect to a login page.
        Probe("anonymous read", "GET", PROMPT, 401),
        Probe("anonymous write", "POST", PROMPT, 401, json={"source": GREETING + "#\n"}),
        Probe("malformed key", "GET", PROMPT, 401, headers={"X-API-Key": "psk_nope"}),
        Probe("unknown key", "GET", PROMPT, 401,
              headers={"Authorization": "Bearer psk_00000000_" + "a" * 43}),
        Probe("bearer of nothing", "GET", "/api/v1/me", 401, headers={"Authorization": "Basic x"}),
        Probe("wrong password", "POST", "/api/v1/auth/login", 401,
              json={"email": "ann@example.com", "password": "wrong password"},
              check=lambda r, b: "Set-Cookie" not in r.headers),
        Probe("logout without session", "POST", "/api/v1/auth/logout", 401),
        # 403: the role is too low, or a key where a user is needed, or no CSRF token.
        Probe("viewer pushes", "POST", PROMPT, 403, json={"source": GREETING + "#\n"},
              headers=viewer),
        Probe("editor moves production", "PUT", f"{PROMPT}/-/labels/production", 403,
              json={"version": 1}, headers=editor),
        Probe("editor lists keys", "GET", "/api/v1/projects/demo/keys", 403, headers=editor),
        Probe("key creates a project", "POST", "/api/v1/projects", 403,
              json={"slug": "by-key"}, headers=admin),
        Probe("cookie write without CSRF", "POST", PROMPT, 403, "csrf_failed",
              json={"source": GREETING + "#\n"}, cookie=True),
        Probe("cookie write, wrong CSRF", "PUT", f"{PROMPT}/-/labels/staging", 403,
              "csrf_failed", json={"version": 1}, headers={"X-CSRF-Token": "guess"}, cookie=True),
        # 404: unknown project, prompt, version, label, key, member or route.
        Probe("unknown project", "GET", "/api/v1/projects/nope/prompts", 404, headers=csrf,
              cookie=True),
        Probe("unknown project (key)", "GET", "/api/v1/projects/nope/events", 404,
              headers=admin),
        Probe("unknown prompt", "GET", "/api/v1/projects/demo/prompts/nope", 404, headers=viewer),
        Probe("impossible slug", "GET", "/api/v1/projects/demo/prompts/Bad..Slug", 404,
              headers=viewer),
        Probe("unknown version", "GET", f"{PROMPT}?version=99", 404, headers=viewer),
        Probe("unknown label", "GET", f"{PROMPT}?label=nope", 404, headers=viewer),
        Probe("render unknown label", "POST", f"{PROMPT}/-/render", 404,
              json={"variables": {"topic": "x"}, "label": "nope"}, headers=viewer),
        Probe("diff unknown version", "GET", f"{PROMPT}/-/diff?from=1&to=42", 404,
              headers=viewer),
        Probe("diff unknown label", "GET", f"{PROMPT}/-/diff?from=nope", 404, headers=viewer),
        Probe("label to unknown version", "PUT", f"{PROMPT}/-/labels/staging", 404,
              json={"version": 42}, headers=admin),
        Probe("delete unknown label", "DELETE", f"{PROMPT}/-/labels/nope", 404, headers=admin),
        Probe("versions of unknown prompt", "GET", "/api/v1/projects/demo/prompts/x/-/versions",
              404, headers=viewer),
        Probe("unknown sub-resource", "GET", f"{PROMPT}/-/nope", 404, headers=viewer),
        Probe("unknown key id", "DELETE", "/api/v1/projects/demo/keys/999999", 404,
              headers=admin),
        Probe("unknown member", "DELETE", "/api/v1/projects/demo/members/nobody@example.com",
              404, headers=admin),
        Probe("unknown route", "GET", "/api/v1/nope", 404),
        Probe("unknown API version", "GET", "/api/v2/prompts", 404),
        Probe("trailing slash", "GET", "/api/v1/projects/", 404, headers=admin),
        # 405, with Allow.
        Probe("PATCH /me", "PATCH", "/api/v1/me", 405, headers=admin, check=_allow("GET")),
        Probe("GET login", "GET", "/api/v1/auth/login", 405, check=_allow("POST")),
        Probe("DELETE versions", "DELETE", f"{PROMPT}/-/versions", 405, headers=admin,
              check=_allow("GET")),
        Probe("GET render", "GET", f"{PROMPT}/-/render", 405, headers=admin,
              check=_allow("POST")),
        Probe("PUT a prompt", "PUT", PROMPT, 405, json={"source": GREETING}, headers=admin,
              check=_allow("GET", "POST")),
        # 409: conflicts with what is stored.
        Probe("stale parent_version", "POST", PROMPT, 409,
              json={"source": GREETING + "# stale\n", "parent_version": 0}, headers=editor,
              check=lambda r, b: b["latest_version"] == 2),
        Probe("expected_version mismatch", "PUT", f"{PROMPT}/-/labels/staging", 409,
              json={"version": 2, "expected_version": 2}, headers=editor),
        Probe("delete label, expectation", "DELETE",
              f"{PROMPT}/-/labels/staging?expected_version=2", 409, headers=editor),
        Probe("duplicate signup", "POST", "/api/v1/auth/signup", 409,
              json={"email": "ANN@example.com", "password": "another password"}),
        Probe("duplicate project", "POST", "/api/v1/projects", 409, json={"slug": "demo"},
              headers=csrf, cookie=True),
        Probe("archive under production", "DELETE", PROMPT, 409, "protected_label",
              headers=editor, check=lambda r, b: b["labels"] == ["production"]),
        Probe("archive, expectation", "DELETE", f"{PROMPT}?expected_version=1", 409,
              headers=admin, check=lambda r, b: b["latest_version"] == 2),
        Probe("restore a live prompt", "POST", f"{PROMPT}/-/restore", 409, headers=editor),
        # 410: the latest or a label of an archived prompt.
        Probe("latest of an archived prompt", "GET", GONE, 410, "archived", headers=viewer),
        Probe("label of an archived prompt", "GET", f"{GONE}?label=staging", 410, "archived",
              headers=viewer),
        Probe("render an archived prompt", "POST", f"{GONE}/-/render", 410, "archived",
              json={"variables": {"topic": "x"}}, headers=viewer),
        Probe("label an archived prompt", "PUT", f"{GONE}/-/labels/staging", 410, "archived",
              json={"version": 1}, headers=editor),
        Probe("archive it again", "DELETE", GONE, 404, headers=editor),
        Probe("remove the last admin", "DELETE", "/api/v1/projects/demo/members/ann@example.com",
              409, headers=admin),
        Probe("demote the last admin", "PUT", "/api/v1/projects/demo/members/ann@example.com",
              409, json={"role": "editor"}, headers=admin),
        # 413: more than a batch may hold.
        Probe("batch of 501", "POST", "/api/v1/projects/demo/prompts", 413,
              json={"prompts": [{"slug": f"p{i}", "source": GREETING} for i in range(501)]},
              headers=admin),
        # 422: the prompt or the variables are invalid, with lines and names.
        Probe("invalid YAML", "POST", PROMPT, 422, json={"source": bad_yaml}, headers=editor,
              check=_problems_have_lines),
        Probe("unknown top-level key", "POST", PROMPT, 422,
              json={"source": GREETING + "colour: red\n"}, headers=editor,
              check=lambda r, b: b["problems"][0]["line"] == 8),
        Probe("duplicate key", "POST", "/api/v1/projects/demo/prompts/new", 422,
              json={"source": "template: a\ntemplate: b\n"}, headers=editor,
              check=lambda r, b: b["problems"][0]["line"] == 2),
        Probe("missing variable", "POST", f"{PROMPT}/-/render", 422, "invalid_variables",
              json={"variables": {}}, headers=viewer,
              check=lambda r, b: b["missing"] == ["topic"]),
        Probe("unknown variable", "POST", f"{PROMPT}/-/render", 422, "invalid_variables",
              json={"variables": {"topic": "x", "colour": "red"}}, headers=viewer,
              check=lambda r, b: b["unknown"] == ["colour"]),
    ]


def _send(client: FlaskClient, probe: Probe) -> TestResponse:
    kwargs: dict[str, Any] = {"method": probe.method, "headers": probe.headers}
    if probe.json is not None:
        kwargs["json"] = probe.json
    if probe.data is not None:
        kwargs["data"] = probe.data
    return client.open(probe.path, **kwargs)


def test_every_error_has_the_one_shape(app: Flask, client: FlaskClient) -> None:
    account = make_account(app)
    keys = {role: account.headers(role) for role in ("viewer", "editor", "admin")}
    admin = keys["admin"]
    for source in (GREETING, GREETING + "# 2\n"):
        assert client.post(PROMPT, json={"source": source}, headers=admin).status_code == 201
    for label in ("staging", "production"):
        assert client.put(f"{PROMPT}/-/labels/{label}", json={"version": 1},
                          headers=admin).status_code == 200
    assert client.post(GONE, json={"source": GREETING}, headers=admin).status_code == 201
    assert client.delete(GONE, headers=admin).status_code == 204
    session = app.test_client()
    csrf = {"X-CSRF-Token": login(session, account.email)}

    seen: set[int] = set()
    for probe in _probes(keys, csrf):
        web = session if probe.cookie else client
        before = snapshot(app)
        response = _send(web, probe)
        try:
            body = assert_error(response, probe.status, probe.code)
            if probe.check is not None:
                assert probe.check(response, body) is not False
            assert snapshot(app) == before, "a refused request wrote to the database"
        except AssertionError as exc:
            raise AssertionError(f"{probe.name}: {exc}") from exc
        seen.add(probe.status)
    assert seen == {400, 401, 403, 404, 405, 409, 410, 413, 422}

    # 429: the login throttle answers even the right password, with Retry-After.
    signup(client, "tess@example.com")
    limit = app.config["LOGIN_MAX_FAILURES"]
    wrong = {"email": "tess@example.com", "password": "not her password"}
    for _ in range(limit):
        assert_error(client.post("/api/v1/auth/login", json=wrong), 401)
    response = client.post("/api/v1/auth/login",
                           json={"email": "tess@example.com", "password": "correct horse battery"})
    assert_error(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    assert "Set-Cookie" not in response.headers


@pytest.fixture
def small_app(database_url: str) -> Iterator[Flask]:
    """The app with a 2 KiB body limit, on the test's database."""
    with running_app(database_url, MAX_CONTENT_LENGTH=2048) as app:
        yield app


def test_body_too_large_and_internal_errors_keep_the_shape(small_app: Flask) -> None:
    app = small_app

    @app.get("/api/v1/test-boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2 at /srv/promptsync/db.py")

    account = make_account(app)
    client = app.test_client()
    before = snapshot(app)
    big = {"source": GREETING + "#" * 4096}
    for path in (PROMPT, "/api/v1/projects/demo/prompts", "/api/v1/auth/signup"):
        assert_error(client.post(path, json=big, headers=account.headers("admin")), 413)
    assert snapshot(app) == before

    response = client.get("/api/v1/test-boom")
    body = assert_error(response, 500)
    raw = response.get_data(as_text=True)
    for leak in ("hunter2", "RuntimeError", "Traceback", "/srv/", ".py", "secret"):
        assert leak not in raw
    assert set(body) == {"error", "detail"}
