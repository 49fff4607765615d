"""HTTP as the RFCs say, at the edges: no redirect and no HTML under /api/, OPTIONS and HEAD on
every route, a chunked body over the limit a 413, and If-None-Match by the weak comparison.

Each class is walked with a corpus through the real app on SQLite and Postgres (one app per
backend for the module), and the parts a server process changes (a chunked body as gunicorn
hands it over, HEAD and OPTIONS on the wire) once more against one real gunicorn.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import Client, TestResponse

from tests.support.app import (
    BACKENDS,
    GREETING,
    Account,
    dispose_app,
    login,
    make_account,
    make_app,
    snapshot,
    truncate_postgres,
)
from tests.support.gunicorn import Gunicorn
from tests.support.live import create_account
from webapi.fetch.middleware import FetchFastPath
from webapi.openapi.document import openapi_document

LIMIT = 16 * 1024  # MAX_CONTENT_LENGTH here: bodies over it are cheap to build
PROMPT = "/api/v1/projects/demo/prompts/support/greeting"
SHORT = "/api/v1/prompts/support/greeting"
ORIGIN = "https://app.example.com"


@dataclass
class Edges:
    """The app of one backend, ann's account, and a logged-in client with its CSRF header."""

    app: Flask
    account: Account
    session: FlaskClient
    csrf: dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def edges(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Edges]:
    """demo/support/greeting at versions 1..3 with production and staging on 2, per backend."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("edges") / "edges.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        truncate_postgres(url)
    app = make_app(url, MAX_CONTENT_LENGTH=LIMIT)
    account = make_account(app)
    client = app.test_client()
    for n in (1, 2, 3):
        pushed = client.post(PROMPT, json={"source": GREETING + f"# {n}\n"},
                             headers=account.headers("editor"))
        assert pushed.status_code == 201, pushed.get_json()
    for label in ("production", "staging"):
        moved = client.put(f"{PROMPT}/-/labels/{label}", json={"version": 2},
                           headers=account.headers("admin"))
        assert moved.status_code == 200, moved.get_json()
    session = app.test_client()
    csrf = {"X-CSRF-Token": login(session, account.email)}
    yield Edges(app, account, session, csrf)
    dispose_app(app)


def error_shape(response: TestResponse, status: int) -> dict[str, Any]:
    """The one JSON error shape, with no redirect and no HTML."""
    raw = response.get_data(as_text=True)
    assert response.status_code == status, raw
    assert response.mimetype == "application/json", (response.mimetype, raw)
    assert "Location" not in response.headers and "<html" not in raw.lower()
    body = response.get_json()
    assert isinstance(body, dict) and set(body) >= {"error", "detail"}, body
    return body


def fill(path: str, **values: str) -> str:
    """A documented path under /api/v1 with sample values (1 for any id)."""
    values = {"project": "demo", "slug": "support/greeting", "label": "staging",
              "email": "ann@example.com", **values}
    return "/api/v1" + re.sub(r"\{(\w+)\}", lambda name: values.get(name[1], "1"), path)


def documented() -> dict[str, set[str]]:
    """Every documented /api/v1 path, with sample values, and its methods."""
    return {fill(path): {method.upper() for method in item}
            for path, item in openapi_document()["paths"].items()}


# --- no redirect, no HTML: a path with // and any other redirect werkzeug would make ---------

REDIRECTED = [  # werkzeug merges the slashes with a 308 (an HTML page) unless told otherwise
    ("GET", "/api/v1//projects"), ("GET", "/api//v1/projects"), ("GET", "/api/v1//me"),
    ("GET", "/api/v1/projects//demo/events"), ("GET", "/api/v1/projects/demo//prompts"),
    ("GET", "/api/v1//prompts/support/greeting"), ("GET", "/api/v1//prompts"),
    ("GET", "/api/v1/projects/demo//prompts/support/greeting?version=1"),
    ("HEAD", "/api/v1//projects"), ("OPTIONS", "/api/v1//projects"),
    ("POST", "/api/v1//projects/demo/prompts/support/greeting"),
    ("POST", "/api/v1/projects/demo//prompts"), ("POST", "/api/v1//auth/signup"),
    ("PUT", "/api/v1/projects//demo/members/bob@example.com"),
    ("DELETE", "/api/v1/projects/demo//keys/1"), ("POST", "/api/v1//projects"),
]


def test_no_redirect_and_no_html_under_api(edges: Edges) -> None:
    key = edges.account.headers("admin")
    before = snapshot(edges.app)
    body = {"source": GREETING + "# over a redirect\n", "email": "new@example.com",
            "password": "long enough password", "role": "viewer", "slug": "new",
            "prompts": [{"slug": "new", "source": GREETING}]}
    for method, path in REDIRECTED:
        for client, headers in ((edges.app.test_client(), key), (edges.session, edges.csrf)):
            response = client.open(path, method=method, headers=headers,
                                   json=body if method in {"POST", "PUT"} else None)
            if method == "HEAD":
                assert response.status_code == 404 and response.data == b"", path
                assert response.mimetype == "application/json" and "Location" not in \
                    response.headers
            else:
                error_shape(response, 404)
    assert snapshot(edges.app) == before, "a request over a redirect changed the database"


def test_a_slash_redirect_of_a_new_route_is_json_too(sqlite_url: str) -> None:
    # Werkzeug redirects /x to /x/ for a rule that ends in '/': none under /api/ today, so a
    # route with one is added here, to hold the class rather than today's routes.
    app = make_app(sqlite_url)
    app.add_url_rule("/api/v1/slashed/", "slashed", lambda: {"ok": True})
    client = app.test_client()
    assert client.get("/api/v1/slashed/").get_json() == {"ok": True}
    for method in ("GET", "POST", "OPTIONS"):
        error_shape(client.open("/api/v1/slashed", method=method), 404)
    dispose_app(app)


# --- OPTIONS: JSON and an exact Allow on every route, credentials or not, CORS or not --------

def allow(response: TestResponse) -> set[str]:
    return {method.strip() for method in response.headers.get("Allow", "").split(",")} - {""}


def expected_allow(methods: set[str]) -> set[str]:
    return methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())


def test_options_answers_json_with_the_methods_of_each_route(edges: Edges) -> None:
    anonymous, key = edges.app.test_client(), edges.account.headers("viewer")
    for path, methods in documented().items():
        for headers in ({}, key):
            response = anonymous.options(path, headers=headers)
            assert response.status_code == 200, (path, response.data)
            assert response.mimetype == "application/json", (path, response.mimetype)
            assert allow(response) == expected_allow(methods), path
            assert set(response.get_json()["allow"]) == allow(response), path
    for path in ("/api/v1/nope", "/api/v1/projects/demo/prompts/support/greeting/-/nope"):
        error_shape(anonymous.options(path), 404)


def test_options_is_the_cors_preflight_when_cors_is_on(edges: Edges) -> None:
    url = edges.app.config["SQLALCHEMY_DATABASE_URI"]
    cors = make_app(url, CORS_ORIGINS=[ORIGIN], MAX_CONTENT_LENGTH=LIMIT)
    client = cors.test_client()
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "X-API-Key, If-None-Match"}
    for path in (PROMPT, SHORT, PROMPT + "/-/versions", "/api/v1/projects"):
        response = client.options(path, headers=preflight)
        assert response.status_code == 200 and response.mimetype == "application/json", path
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "x-api-key" in response.headers["Access-Control-Allow-Headers"].lower()
        assert "GET" in allow(response)
    stranger = client.options(PROMPT, headers={**preflight, "Origin": "https://evil.example"})
    assert stranger.mimetype == "application/json"
    assert "Access-Control-Allow-Origin" not in stranger.headers
    fetched = client.get(PROMPT, headers={"Origin": ORIGIN, **edges.account.headers("viewer")})
    assert fetched.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "ETag" in fetched.headers["Access-Control-Expose-Headers"]
    revalidated = client.get(PROMPT, headers={"Origin": ORIGIN, "If-None-Match": "W/"
                                              + fetched.headers["ETag"],
                                              **edges.account.headers("viewer")})
    assert revalidated.status_code == 304
    dispose_app(cors)


# --- HEAD: what GET answers, without the body ------------------------------------------------

def answer(response: TestResponse) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers; of a cookie set only its name (a session signs a fresh value)."""
    return response.status_code, sorted(
        (name, value.split("=")[0] if name == "Set-Cookie" else value)
        for name, value in response.headers.items())


def head_is_get(client: FlaskClient | Client, path: str, headers: dict[str, str]) -> int:
    """HEAD answers the status and headers GET does (Content-Length included), no body."""
    got = client.get(path, headers=headers)
    head = client.head(path, headers=headers)
    assert head.data == b"" and head.status_code < 500, (path, head.status_code)
    assert answer(head) == answer(got), path
    return head.status_code


def test_head_is_get_without_the_body_on_every_route(edges: Edges) -> None:
    key = edges.account.headers("admin")
    api = edges.app.test_client()
    for path, methods in documented().items():
        if "GET" in methods:
            head_is_get(api, path, key)
            head_is_get(edges.session, path, {})
        else:
            head = api.head(path, headers=key)
            assert head.status_code == 405 and head.data == b"", path
            assert allow(head) == expected_allow(methods), path
    fetches = [PROMPT + query for query in ("", "?version=1", "?label=production", "?version=9",
                                            "?label=nope", "?version=abc", "?version=1&label=x")]
    for path in [*fetches, *(p.replace(PROMPT, SHORT) for p in fetches), PROMPT + "/-/diff"
                 + "?from=1&to=3", "/api/v1/projects/demo/prompts/no/such", "/api/v1/nope",
                 "/api/v1/projects/other/prompts/support/greeting"]:
        for headers in (edges.account.headers("viewer"), {"X-API-Key": "psk_nope"}, {}):
            head_is_get(api, path, headers)
    assert head_is_get(api, PROMPT, edges.account.headers("viewer")) == 200
    for path in ("/healthz", "/openapi.json", "/docs", "/admin/login", "/admin/signup", "/"):
        head_is_get(edges.app.test_client(), path, {})
    for path in ("/admin/", "/admin/p/demo/", "/admin/p/demo/prompts/support/greeting",
                 "/admin/p/demo/keys", "/admin/p/demo/activity"):
        head_is_get(edges.session, path, {})


# --- If-None-Match: RFC 9110's weak comparison, in every path a fetch takes ------------------

MATCHING = ['"{}"', 'W/"{}"', '"x", W/"{}"', 'W/"x","{}"', '"{}", "x"', ' "{}" ', '*',
            '"a", "b", W/"{}", "c"', 'W/"{}" ,W/"x"']
NOT_MATCHING = ['"x"', 'W/"x"', '"{upper}"', "{}", "W/{}", '"{}x"', '"x{}"', '""',
                '"{short}"', 'W/"x", "y"']


def test_if_none_match_uses_the_weak_comparison(edges: Edges) -> None:
    fast = edges.app.wsgi_app
    assert isinstance(fast, FetchFastPath)
    flask_only = Client(fast.general)  # the Flask view, without the fast path
    key = edges.account.headers("viewer")
    callers: list[tuple[str, Any, dict[str, str], list[str]]] = [
        ("fast path", edges.app.test_client(), key, [PROMPT, SHORT]),
        ("flask view", flask_only, key, [PROMPT, SHORT]),
        ("session", edges.session, {}, [PROMPT]),
    ]
    for name, client, headers, bases in callers:
        for path in [base + query for base in bases
                     for query in ("", "?version=1", "?label=production")]:
            current = client.get(path, headers=headers)
            etag = current.headers["ETag"]
            sha = etag.strip('"')
            for form in MATCHING + NOT_MATCHING:
                value = form.replace("{upper}", sha.upper()).replace("{short}", sha[:-1])
                value = value.replace("{}", sha)
                for method in ("GET", "HEAD") if path in bases else ("GET",):
                    response = client.open(path, method=method,
                                           headers={**headers, "If-None-Match": value})
                    want = 304 if form in MATCHING else 200
                    assert response.status_code == want, (name, path, method, value)
                    assert response.headers["ETag"] == etag, (name, path, value)
                    if want == 304:
                        assert response.data == b""
                    elif method == "GET":
                        assert response.data == current.data


# --- a chunked body over the limit: 413, whatever reads it, never cut short to the limit ----

def padded(body: dict[str, Any], size: int) -> bytes:
    """body as JSON, then spaces up to `size` bytes: valid JSON however much of it is read."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def chunked(client: FlaskClient, method: str, path: str, raw: bytes, headers: dict[str, str]
            ) -> TestResponse:
    """The request as gunicorn and werkzeug's server hand a chunked body to the app: no
    Content-Length, and wsgi.input_terminated set (the server ends the stream)."""
    return client.open(path, method=method, input_stream=io.BytesIO(raw),
                       headers={**headers, "Transfer-Encoding": "chunked",
                                "Content-Type": "application/json"},
                       environ_overrides={"wsgi.input_terminated": True})


def body_operations(n: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every documented operation that reads a JSON body, with a body it would accept ({}
    where a body only has to be too large)."""
    source = GREETING + f"# chunked {n}\n"
    batch = {"prompts": [{"slug": f"chunked/b{n}", "source": source}]}
    samples: dict[str, dict[str, Any]] = {
        "/auth/signup": {"email": f"c{n}@example.com", "password": "x" * 12},
        "/auth/login": {"email": "ann@example.com", "password": "correct horse battery"},
        "/auth/password": {}, "/projects/{project}/import": {},  # refused whole, never at the limit
        "/projects": {"slug": f"chunked{n}", "name": "Chunked"},
        "/projects/{project}/members/{email}": {"role": "viewer"},
        "/projects/{project}/keys": {"name": f"c{n}", "role": "viewer"},
        "/projects/{project}/prompts": batch, "/prompts": batch,
        "/projects/{project}/prompts/{slug}": {"source": source},
        "/prompts/{slug}": {"source": source + "#\n"},
        "/projects/{project}/prompts/{slug}/-/render": {"variables": {"topic": "x"}},
        "/prompts/{slug}/-/render": {"variables": {"topic": "y"}},
        "/projects/{project}/prompts/{slug}/-/labels/{label}": {"version": 1},
        "/prompts/{slug}/-/labels/{label}": {"version": 3},
    }
    return [(method.upper(), fill(path, label="qa", email=f"c{n}@example.com"),
             samples.get(path, {}))
            for path, item in openapi_document()["paths"].items()
            for method, operation in item.items() if "requestBody" in operation]


def test_a_chunked_body_over_the_limit_is_a_413(edges: Edges) -> None:
    session, key = edges.session, edges.account.headers("admin")

    def send(method: str, path: str, raw: bytes) -> TestResponse:
        # The session (ann, admin of demo) with its CSRF header, the key where only a key goes,
        # no one to sign up or log in (a login would end the session's CSRF token).
        if path.endswith(("/signup", "/login")):
            return chunked(edges.app.test_client(), method, path, raw, {})
        shorthand = path.startswith("/api/v1/prompts")
        return chunked(session, method, path, raw, {**edges.csrf, **(key if shorthand else {})})

    before = snapshot(edges.app)
    for method, path, body in body_operations(1):
        for size in (LIMIT + 1, LIMIT + 4096, 4 * LIMIT):
            error_shape(send(method, path, padded(body, size)), 413)
    assert snapshot(edges.app) == before, "a body over the limit was read in part and stored"
    # At the limit nothing changes: the limit is the limit.
    for method, path, body in body_operations(2):
        if body:
            at_limit = send(method, path, padded(body, LIMIT))
            assert at_limit.status_code < 300, (path, at_limit.get_json())
    error_shape(session.post(PROMPT, data=padded({"source": GREETING}, LIMIT + 1),
                             headers={**edges.csrf, "Content-Type": "application/json"}), 413)


# --- end to end: one gunicorn (SQLite) for the module ---------------------------------------

@dataclass
class Live:
    server: Gunicorn
    key: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    """gunicorn with MAX_CONTENT_LENGTH at LIMIT, and an editor key of ann's project."""
    workdir = tmp_path_factory.mktemp("edges-gunicorn")
    shutil.copyfile(sqlite_template, workdir / "edges.db")
    with Gunicorn(workdir, f"sqlite:///{workdir / 'edges.db'}", workers=1,
                  env={"MAX_CONTENT_LENGTH": str(LIMIT)}) as server:
        create_account(server.url, "ann@example.com", "correct horse battery", "demo")
        with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as web:
            csrf = web.post("/auth/login", json={"email": "ann@example.com",
                                                 "password": "correct horse battery"}
                            ).json()["csrf_token"]
            made = web.post("/projects/demo/keys", json={"name": "e2e", "role": "editor"},
                            headers={"X-CSRF-Token": csrf})
            assert made.status_code == 201, made.text
        yield Live(server, made.json()["key"])


def wire(live: Live, method: str, path: str, body: Iterator[bytes] | None = None,
         headers: dict[str, str] | None = None, key: bool = True
         ) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection with http.client; a body goes chunked."""
    conn = http.client.HTTPConnection("127.0.0.1", live.server.port, timeout=10)
    try:
        conn.request(method, path, body=body, encode_chunked=body is not None,
                     headers={**({"X-API-Key": live.key} if key else {}), **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def pieces(raw: bytes, size: int = 1000) -> Iterator[bytes]:
    return (raw[i:i + size] for i in range(0, len(raw), size))


def test_on_the_wire_chunked_bodies_head_options_and_slashes(live: Live) -> None:
    json_type = {"Content-Type": "application/json"}
    for size in (LIMIT + 1, 3 * LIMIT):
        status, headers, raw = wire(live, "POST", PROMPT, pieces(padded(
            {"source": GREETING}, size)), json_type)
        assert (status, headers["content-type"]) == (413, "application/json"), raw
        assert json.loads(raw)["error"] == "too_large"
    status, headers, raw = wire(live, "POST", PROMPT, pieces(padded({"source": GREETING}, LIMIT)),
                                json_type)
    assert status == 201, raw
    status, got, body = wire(live, "GET", PROMPT)
    assert status == 200 and int(got["content-length"]) == len(body) > 0
    status, head, nothing = wire(live, "HEAD", PROMPT)
    assert (status, nothing) == (200, b"")
    for name in ("etag", "cache-control", "content-length", "content-type", "vary"):
        assert head[name] == got[name], name
    assert wire(live, "HEAD", PROMPT, headers={"If-None-Match": "W/" + got["etag"]})[0] == 304
    assert wire(live, "GET", SHORT, headers={"If-None-Match": "W/" + got["etag"]})[0] == 304
    status, headers, raw = wire(live, "OPTIONS", PROMPT, key=False)
    assert (status, headers["content-type"]) == (200, "application/json"), raw
    allowed = json.loads(raw)["allow"]
    assert {"GET", "HEAD", "POST", "OPTIONS"} <= set(allowed)
    assert headers["allow"] == ", ".join(allowed)
    for path in ("/api/v1//projects", "/api/v1//prompts/support/greeting"):
        status, headers, raw = wire(live, "GET", path)
        assert (status, headers["content-type"]) == (404, "application/json"), raw
        assert "location" not in headers
