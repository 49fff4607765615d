"""No input answers 500: hostile text, numbers, keys and nesting in every JSON-taking route, odd
bytes in paths, queries and headers, and the `git` object's shape — on SQLite and Postgres."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from promptsync.sync.gitinfo import GitInfo
from tests.support.app import (
    GREETING,
    GREETING_URL,
    Account,
    login,
    make_account,
    running_app,
    snapshot,
    truncate_postgres,
)
from tests.support.hostile_inputs import FRAGMENTS, Fragment
from webapi.extensions import db

MARK = "zz-hostile-zz"
COMMIT = "5d41402abc4b2a76b9719d911017c592a1b2c3d4"
GIT = {"commit": COMMIT, "branch": "main", "dirty": False, "path": "prompts/greeting.yaml"}
ANSWERS_OF_A_REFUSAL = {400, 413, 422}


@dataclass(frozen=True)
class Route:
    """A JSON-taking route, a body it accepts, the fields to poison and who sends it."""

    name: str
    method: str
    path: str
    body: dict[str, Any]
    fields: tuple[str, ...]
    caller: str = "admin"  # an API key's role, "session" (cookie and CSRF) or "anonymous"
    seeded: bool = True  # needs support/greeting at version 1
    ok: tuple[int, ...] = (200, 201)


def _export() -> dict[str, Any]:
    return {"format": "promptsync-export", "format_version": 1, "prompts": [
        {"slug": "support/greeting", "labels": {"staging": 1}, "versions": [
            {"version": 1, "source": GREETING, "author": "ann@example.com", "message": "first",
             "git": dict(GIT), "created_at": "2025-01-02T03:04:05Z"}]}],
        "events": [{"action": "key.created", "slug": None, "actor": "ann@example.com",
                    "details": {"name": "ci"}, "created_at": "2025-01-02T03:04:05Z"}]}


ROUTES = [
    Route("signup", "POST", "/api/v1/auth/signup",
          {"email": "new@example.com", "password": "long enough"}, ("email", "password"),
          "anonymous"),
    Route("login", "POST", "/api/v1/auth/login",
          {"email": "ann@example.com", "password": "correct horse battery"},
          ("email", "password"), "anonymous"),
    Route("password", "POST", "/api/v1/auth/password",
          {"current_password": "correct horse battery", "new_password": "battery staple"},
          ("new_password",), "session", ok=(204,)),
    Route("project", "POST", "/api/v1/projects", {"slug": "fresh", "name": "Fresh"}, ("name",),
          "session"),
    Route("key", "POST", "/api/v1/projects/demo/keys", {"name": "ci", "role": "viewer"},
          ("name",)),
    Route("member", "PUT", "/api/v1/projects/demo/members/ann@example.com", {"role": "admin"},
          ("role",)),
    Route("push", "POST", GREETING_URL, {"source": GREETING + "# 2\n", "message": "m",
                                         "git": GIT}, ("message", "git.branch", "git.path")),
    Route("batch", "POST", "/api/v1/projects/demo/prompts",
          {"prompts": [{"slug": "a", "source": GREETING, "message": "m", "git": GIT}]},
          ("prompts[0].message", "prompts[0].git.commit")),
    Route("label", "PUT", f"{GREETING_URL}/-/labels/staging", {"version": 1}, ("version",)),
    Route("render", "POST", f"{GREETING_URL}/-/render", {"variables": {"topic": "billing"}},
          ("variables.topic",), "viewer"),
    Route("import", "POST", "/api/v1/projects/demo/import", _export(),
          ("prompts[0].versions[0].message", "prompts[0].versions[0].git.dirty",
           "events[0].details.name"), seeded=False),
]


def _steps(name: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", name)]


def poisoned(body: dict[str, Any], name: str, fragment: Fragment) -> bytes:
    """body as JSON bytes with the field called name (e.g. prompts[0].git.commit) replaced by
    the fragment's raw bytes."""
    copy = json.loads(json.dumps(body))
    *parents, last = _steps(name)
    holder = copy
    for step in parents:
        holder = holder[step]
    holder[last] = MARK
    raw = json.dumps(copy).encode()
    assert raw.count(f'"{MARK}"'.encode()) == 1
    return raw.replace(f'"{MARK}"'.encode(), fragment.raw)


@dataclass
class Sender:
    """Sends a route's requests as its caller."""

    client: FlaskClient
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, route: Route, raw: bytes) -> TestResponse:
        return self.client.open(route.path, method=route.method, data=raw, headers={
            **self.headers, "Content-Type": "application/json"})


def _sender(app: Flask, account: Account, caller: str) -> Sender:
    if caller == "anonymous":
        return Sender(app.test_client())
    if caller == "session":
        client = app.test_client()
        return Sender(client, {"X-CSRF-Token": login(client, account.email)})
    return Sender(app.test_client(), account.headers(caller))


def assert_refused(response: TestResponse, what: str) -> dict[str, Any]:
    """A 4xx of the one error shape, never a 500."""
    raw = response.get_data(as_text=True)
    assert response.status_code in ANSWERS_OF_A_REFUSAL, f"{what}: {response.status_code} {raw}"
    assert response.mimetype == "application/json", f"{what}: {raw}"
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), f"{what}: {raw}"
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), f"{what}: {raw}"
    assert set(body) <= {"error", "detail", "field"}, f"{what}: {raw}"
    return body


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_hostile_json_is_refused_naming_the_field(app: Flask, account: Account,
                                                  route: Route) -> None:
    if route.seeded:
        created = app.test_client().post(GREETING_URL, json={"source": GREETING},
                                         headers=account.headers("editor"))
        assert created.status_code == 201
    sender = _sender(app, account, route.caller)
    before = snapshot(app)
    failures = []
    for name in route.fields:
        for fragment in FRAGMENTS:
            what = f"{route.name} {name} <- {fragment.name}"
            response = sender.send(route, poisoned(route.body, name, fragment))
            try:
                body = assert_refused(response, what)
                if fragment.names == "body":
                    assert "nested deeper than 64" in body["detail"], f"{what}: {body}"
                    assert "field" not in body
                else:
                    assert body.get("field") == name, f"{what}: {body}"
                    assert f"'{name}'" in body["detail"], f"{what}: {body}"
            except AssertionError as exc:
                failures.append(str(exc))
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
    assert snapshot(app) == before, "a refused request wrote to the database"
    # The same body, unpoisoned, is accepted: the fragment was what the server refused.
    clean = sender.send(route, json.dumps(route.body).encode())
    assert clean.status_code in route.ok, clean.get_data(as_text=True)


def test_deep_nesting_is_bounded_before_parsing(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    # 64 levels is the most a body may have; 65 is refused (and a 1,000-deep one is no 500).
    for depth, status in [(63, 400), (64, 400), (65, 400), (1000, 400), (500_000, 400)]:
        raw = b'{"email": ' + b"[" * (depth - 1) + b'"x"' + b"]" * (depth - 1) + b"}"
        response = client.post("/api/v1/auth/login", data=raw,
                               headers={"Content-Type": "application/json"})
        body = assert_refused(response, f"depth {depth}")
        assert response.status_code == status
        assert ("nested deeper" in body["detail"]) == (depth > 64), (depth, body)
    # Brackets inside strings are text, not nesting.
    response = client.post("/api/v1/auth/login", json={"email": "[" * 100, "password": "x"})
    assert "nested" not in assert_refused(response, "brackets in a string")["detail"]


def test_hostile_paths_queries_and_headers_never_answer_500(app: Flask, account: Account) -> None:
    client = app.test_client()
    assert client.post(GREETING_URL, json={"source": GREETING},
                       headers=account.headers("admin")).status_code == 201
    viewer, admin = account.headers("viewer"), account.headers("admin")
    session = app.test_client()
    csrf = login(session, account.email)
    odd = ["%ED%A0%80", "%ED%B0%80%ED%A0%80", "%FF", "%C0%80", "%1B%5B2J", "%E2%80%AE", "%7F",
           "%C2%9B"]
    requests: list[tuple[str, str, dict[str, str], FlaskClient]] = []
    forms: list[tuple[str, str]] = []
    for value in odd:
        requests += [
            ("GET", f"{GREETING_URL}?label={value}", viewer, client),
            ("GET", f"{GREETING_URL}?version={value}", viewer, client),
            ("GET", f"{GREETING_URL}/-/diff?from={value}&to=1", viewer, client),
            ("GET", f"/api/v1/projects/demo/events?cursor={value}", viewer, client),
            ("GET", f"/api/v1/projects/demo/prompts?limit={value}", viewer, client),
            ("GET", f"/api/v1/projects/{value}/prompts", viewer, client),
            ("GET", f"/api/v1/projects/demo/prompts/a{value}", viewer, client),
            ("GET", f"/api/v1/prompts/support/{value}/-/versions", viewer, client),
            ("PUT", f"{GREETING_URL}/-/labels/{value}", admin, client),
            ("DELETE", f"/api/v1/projects/demo/members/{value}@example.com", admin, client),
            ("DELETE", f"/api/v1/projects/demo/keys/{value}", admin, client),
            ("GET", f"/admin/p/demo/?q={value}", {}, session),
            ("GET", f"/admin/p/{value}/", {}, session),
            ("GET", f"/admin/p/demo/prompts/support/greeting/-/diff?from={value}", {}, session),
        ]
        # Form posts of the admin pages, the value percent-encoded as a browser sends it.
        for path, form in [("/admin/p/demo/keys", f"name={value}&role=viewer"),
                           ("/admin/projects", f"slug=x{value}&name={value}"),
                           ("/admin/p/demo/new", f"slug=a{value}&source=template:%20x&message="
                                                 f"{value}"),
                           ("/admin/login", f"email={value}&password={value}")]:
            forms.append((path, f"{form}&csrf_token={csrf}"))
    # Header values arrive as latin-1 text (WSGI): each byte one character.
    for value in ['"\xed\xa0\x80"', 'W/"\xff"', "\x1b[2J", '"' + "f" * 10_000 + '"']:
        requests.append(("GET", GREETING_URL, {**viewer, "If-None-Match": value}, client))
    for value in ["psk_\xed\xa0\x80_x", "psk_00000000_\xff" + "a" * 42, "\x1b"]:
        requests.append(("GET", "/api/v1/me", {"X-API-Key": value}, client))
        requests.append(("GET", "/api/v1/me", {"Authorization": f"Bearer {value}"}, client))
        requests.append(("POST", "/api/v1/auth/logout", {"X-CSRF-Token": value}, session))
    failures = []
    for method, path, headers, web in requests:
        response = web.open(path, method=method, headers=headers)
        if response.status_code >= 500 or (path.startswith("/api/")
                                           and response.mimetype != "application/json"):
            failures.append(f"{method} {path} {headers}: {response.status_code}")
    for path, form in forms:
        response = session.post(path, data=form,
                                content_type="application/x-www-form-urlencoded")
        if response.status_code >= 500:
            failures.append(f"POST {path} {form}: {response.status_code}")
    # Raw bytes in the path, as a server hands them over (PATH_INFO decoded as latin-1).
    for raw in ["/api/v1/projects/demo/prompts/a\xed\xa0\x80", "/api/v1/projects/\xff/events"]:
        response = client.get("/", environ_overrides={"PATH_INFO": raw}, headers=viewer)
        if response.status_code >= 500:
            failures.append(f"raw path {raw!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


BAD_GIT: list[tuple[object, str]] = [
    ("main", "git"), ([COMMIT], "git"), ({"commit": COMMIT, "author": "eve"}, "git"),
    ({"commit": "abc"}, "git.commit"), ({"commit": "g" * 40}, "git.commit"),
    ({"commit": COMMIT + "0"}, "git.commit"), ({"commit": 5}, "git.commit"),
    ({"commit": " " + COMMIT[1:]}, "git.commit"),
    ({"branch": ""}, "git.branch"), ({"branch": "b" * 256}, "git.branch"),
    ({"branch": "main\nfake"}, "git.branch"), ({"branch": "\u202eniam"}, "git.branch"),
    ({"branch": ["main"]}, "git.branch"),
    ({"dirty": "yes"}, "git.dirty"), ({"dirty": 1}, "git.dirty"), ({"dirty": 0.0}, "git.dirty"),
    ({"path": "/etc/passwd"}, "git.path"), ({"path": "../outside.yaml"}, "git.path"),
    ({"path": "prompts/../../x.yaml"}, "git.path"), ({"path": "prompts\\..\\x.yaml"}, "git.path"),
    ({"path": "C:/Users/x.yaml"}, "git.path"), ({"path": "\\\\server\\share"}, "git.path"),
    ({"path": "a\tb.yaml"}, "git.path"), ({"path": ""}, "git.path"),
    ({"path": "p" * 4097}, "git.path"), ({"path": {"a": 1}}, "git.path"),
]


@pytest.mark.parametrize("git", [
    GIT, {}, None, {"commit": None, "branch": None, "dirty": True, "path": "a.yaml"},
    {"commit": COMMIT.upper(), "branch": "feature/ünïcode-😀", "dirty": True,
     "path": "prompts/dir with space/..hidden..yaml"},
], ids=["full", "empty", "null", "detached", "unusual"])
def test_git_objects_of_the_right_shape_are_stored(app: Flask, account: Account,
                                                   git: object) -> None:
    client = app.test_client()
    response = client.post(GREETING_URL, json={"source": GREETING, "git": git},
                           headers=account.headers("editor"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["git"] == git
    assert client.get(GREETING_URL, headers=account.headers("viewer")).get_json()["git"] == git


def test_the_clients_own_git_object_passes(app: Flask, account: Account, tmp_path: Path) -> None:
    info = GitInfo(tmp_path, COMMIT, "main", "subject", frozenset({"prompts/a.yaml"}))
    outside = tmp_path.parent / "elsewhere.yaml"  # a symlinked prompts dir resolves outside
    cases = [(COMMIT, "main", tmp_path / "prompts" / "a.yaml"),
             (None, None, tmp_path / "prompts" / "a.yaml"),
             (COMMIT, "b" * 300, tmp_path / "prompts" / "a.yaml"),
             (COMMIT, "main", outside)]
    for commit, branch, path in cases:
        git = GitInfo(tmp_path, commit, branch, None, info.dirty).for_file(path)
        response = app.test_client().post(
            "/api/v1/projects/demo/prompts", json={"prompts": [
                {"slug": "a", "source": GREETING + f"# {commit} {path.name} {len(branch or '')}\n",
                 "git": git}]},
            headers=account.headers("editor"))
        assert response.get_json()["results"][0]["status"] == "created", response.get_json()


def test_git_objects_of_another_shape_are_refused_everywhere(app: Flask,
                                                             account: Account) -> None:
    client = app.test_client()
    editor, admin = account.headers("editor"), account.headers("admin")
    before = snapshot(app)
    for git, name in BAD_GIT:
        what = f"git={str(git)[:60]!r}"
        body = assert_refused(client.post(GREETING_URL, json={"source": GREETING, "git": git},
                                          headers=editor), what)
        assert body["field"] == name and f"'{name}'" in body["detail"], (what, body)
        document = _export()
        document["prompts"][0]["versions"][0]["git"] = git
        refused = assert_refused(client.post("/api/v1/projects/demo/import", json=document,
                                             headers=admin), what)
        assert f"'{name}'" in refused["detail"] and "v1" in refused["detail"], (what, refused)
    assert snapshot(app) == before
    # In a batch, the item with a bad git is refused alone: the others are stored.
    items = [{"slug": "good", "source": GREETING, "git": GIT},
             {"slug": "bad", "source": GREETING, "git": {"path": "/etc/passwd"}}]
    response = client.post("/api/v1/projects/demo/prompts", json={"prompts": items},
                           headers=editor)
    good, bad = response.get_json()["results"]
    assert good["status"] == "created"
    assert bad["status"] == "error" and bad["field"] == "git.path", bad


def test_a_backup_holding_nan_from_an_old_sqlite_database_is_refused_on_import(
    sqlite_app: Flask, postgres_url: str
) -> None:
    # What an old SQLite server stored (it took NaN in `git`) and exports as NaN.
    account = make_account(sqlite_app)
    client = sqlite_app.test_client()
    assert client.post(GREETING_URL, json={"source": GREETING, "git": GIT},
                       headers=account.headers("editor")).status_code == 201
    with sqlite_app.app_context():
        db.session.execute(text("""UPDATE prompt_versions SET git = '{"dirty": NaN}'"""))
        db.session.commit()
        db.session.remove()
    export = client.get("/api/v1/projects/demo/export", headers=account.headers("admin"))
    assert export.status_code == 200 and b"NaN" in export.data
    truncate_postgres(postgres_url)
    with running_app(postgres_url) as postgres:
        target = make_account(postgres)
        before = snapshot(postgres)
        response = postgres.test_client().post(
            "/api/v1/projects/demo/import", data=export.data,
            headers={**target.headers("admin"), "Content-Type": "application/json"})
        body = assert_refused(response, "import of NaN")
        assert body["field"] == "prompts[0].versions[0].git.dirty", body
        assert "NaN" in body["detail"]
        assert snapshot(postgres) == before


def test_every_json_body_is_read_by_the_input_layer() -> None:
    # One parser: a view reading a body another way would miss the checks above.
    root = Path(__file__).resolve().parents[2] / "webapi"
    readers = re.compile(r"get_json\(|request\.json\b|json\.loads?\(|request\.get_data\(")
    found = [f"{path.relative_to(root)}:{number}"
             for path in sorted(root.rglob("*.py")) if path.name != "inputs.py"
             for number, line in enumerate(path.read_text().splitlines(), start=1)
             if readers.search(line)]
    assert found == []
