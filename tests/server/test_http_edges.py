"""HTTP as the RFCs say, for requests without a body: no redirect and no HTML under /api/,
OPTIONS and HEAD on every route, and If-None-Match by the weak comparison. Each class is walked
with a corpus through the real app on SQLite and Postgres (the `edges` site of
tests/support/http_edges.py, one per backend for the module); bodies: test_http_bodies.py.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import Client, TestResponse

from tests.support.app import GREETING, dispose_app, make_app, snapshot
from tests.support.http_edges import (
    LIMIT,
    PROMPT,
    SHORT,
    Edges,
    documented,
    error_shape,
)
from webapi.fetch.middleware import FetchFastPath

ORIGIN = "https://app.example.com"


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

