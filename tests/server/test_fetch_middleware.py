"""The fetch answered in front of Flask (webapi/fetch/middleware.py): byte for byte what the
Flask view answers, and everything else left to Flask."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.support.app import Account, make_app
from webapi.extensions import db
from webapi.fetch import middleware
from webapi.fetch.connections import idle_connections

BASE = "/api/v1/projects/demo/prompts/support/greeting"
SHORT = "/api/v1/prompts/support/greeting"


class Counting:
    """The Flask app behind the fast path, counting the requests that reach it."""

    def __init__(self, general: Any) -> None:
        self.general, self.calls = general, 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.general(environ, start_response)


@pytest.fixture
def flask_side(app: Flask) -> Iterator[Counting]:
    fast = app.wsgi_app
    assert isinstance(fast, middleware.FetchFastPath)
    counting = Counting(fast.general)
    fast.general = counting
    yield counting
    fast.general = counting.general


def call(wsgi: Any, path: str, headers: dict[str, str], method: str = "GET",
         **builder: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = EnvironBuilder(path=path, method=method, headers=headers, **builder).get_environ()
    app_iter, status, response_headers = run_wsgi_app(wsgi, environ, buffered=True)
    return status, sorted(response_headers.to_wsgi_list()), b"".join(app_iter)


PLAIN = [path + query for path in (BASE, SHORT)
         for query in ("", "?version=2", "?label=production", "?version=1")]


def test_the_fast_answer_is_the_flask_answer(
    app: Flask, seeded: Account, flask_side: Counting
) -> None:
    key = seeded.keys["viewer"]
    for path in PLAIN:
        for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
            fast = call(app.wsgi_app, path, headers)
            assert fast == call(flask_side.general, path, headers), path
            assert fast[0] == "200 OK"
            head = call(app.wsgi_app, path, headers, "HEAD")
            assert head == call(flask_side.general, path, headers, "HEAD"), path
            assert head == (fast[0], fast[1], b"")  # Content-Length included
            tag = dict(fast[1])["ETag"]
            for value, status in ((tag, "304"), (f"W/{tag}", "304"), (f'"x", W/{tag}', "304"),
                                  ("*", "304"), ('W/"x"', "200"), ('"a", "b"', "200")):
                for method in ("GET", "HEAD"):
                    etag = {**headers, "If-None-Match": value}
                    revalidated = call(app.wsgi_app, path, etag, method)
                    assert revalidated == call(flask_side.general, path, etag, method), path
                    assert revalidated[0][:3] == status, (path, value, method)
                    assert status == "200" or revalidated[2] == b""
    assert flask_side.calls == 0, "the fast path left a plain fetch to Flask"


def test_an_archived_prompt_by_number_is_fast_and_the_rest_is_flasks_410(
    app: Flask, seeded: Account, flask_side: Counting
) -> None:
    archived = app.test_client().delete(BASE + "?force=true", headers=seeded.headers("admin"))
    assert archived.status_code == 204
    flask_side.calls = 0  # the DELETE went through Flask
    headers = seeded.headers("viewer")
    for path in (BASE, SHORT):
        for query in ("?version=2", "?version=1"):
            fast = call(app.wsgi_app, path + query, headers)
            assert fast == call(flask_side.general, path + query, headers), path + query
            assert fast[0] == "200 OK"
            etag = {**headers, "If-None-Match": dict(fast[1])["ETag"]}
            revalidated = call(app.wsgi_app, path + query, etag)
            assert revalidated == call(flask_side.general, path + query, etag)
            assert revalidated[0] == "304 NOT MODIFIED"
    assert flask_side.calls == 0, "the fast path left a fetch by number to Flask"
    gone = [path + query for path in (BASE, SHORT) for query in ("", "?label=production")]
    for calls, path in enumerate(gone, start=1):
        for extra in ({}, {"If-None-Match": dict(fast[1])["ETag"]}):
            answer = call(app.wsgi_app, path, {**headers, **extra})
            assert answer == call(flask_side.general, path, {**headers, **extra}), path
            assert answer[0] == "410 GONE" and b'"error":"archived"' in answer[2]
        assert flask_side.calls == 2 * calls, "the fast path answered an archived prompt"


NOT_PLAIN: list[tuple[str, dict[str, str], str, dict[str, Any]]] = [
    ("", {"Cookie": "promptsync_session=x"}, "GET", {}),
    ("", {}, "OPTIONS", {}),
    ("", {}, "DELETE", {}),
    ("", {}, "GET", {"data": b"{}", "content_type": "application/json"}),
    ("?version=1&label=production", {}, "GET", {}),
    ("?versions=1", {}, "GET", {}),
    ("?label=", {}, "GET", {}),
    ("?version=0", {}, "GET", {}),
    ("?version=99999999999", {}, "GET", {}),
    ("?label=%70roduction", {}, "GET", {}),
]


def test_what_is_not_plain_is_left_to_flask(
    app: Flask, seeded: Account, flask_side: Counting
) -> None:
    for calls, (query, headers, method, extra) in enumerate(NOT_PLAIN, start=1):
        headers = {**seeded.headers("viewer"), **headers}
        answer = call(app.wsgi_app, BASE + query, headers, method, **extra)
        assert flask_side.calls == calls, (query, headers, method)
        assert answer == call(flask_side.general, BASE + query, headers, method, **extra)


ERRORS = [
    BASE + "?version=9", BASE + "?label=nope", "/api/v1/projects/other/prompts/support/greeting",
    "/api/v1/projects/demo/prompts/no/such", "/api/v1/projects/demo/prompts/Bad_Slug",
    "/api/v1/projects/demo/prompts/a//b", BASE + "/-/versions", "/api/v1/projects/demo/prompts",
]


def test_every_error_is_the_flask_apps(app: Flask, seeded: Account, flask_side: Counting) -> None:
    headers = seeded.headers("viewer")
    for path in ERRORS:
        answer = call(app.wsgi_app, path, headers)
        assert answer == call(flask_side.general, path, headers), path
        assert answer[0][:3] in {"200", "403", "404"}, (path, answer)


def test_bad_and_revoked_keys_get_the_general_paths_401(
    app: Flask, seeded: Account, flask_side: Counting
) -> None:
    client = app.test_client()
    created = client.post("/api/v1/projects/demo/keys", json={"name": "old", "role": "viewer"},
                          headers=seeded.headers("admin")).get_json()
    assert call(app.wsgi_app, BASE, {"X-API-Key": created["key"]})[0] == "200 OK"
    revoked = client.delete(f"/api/v1/projects/demo/keys/{created['id']}",
                            headers=seeded.headers("admin"))
    assert revoked.status_code == 204
    flask_side.calls = 0
    for bad in [created["key"], "nonsense", "", seeded.keys["viewer"][:-4] + "AAAA"]:
        status, _, body = call(app.wsgi_app, BASE, {"X-API-Key": bad})
        assert status.startswith("401"), (bad, body)
    assert flask_side.calls == 4


def test_a_fault_in_the_fast_path_is_answered_by_flask(
    app: Flask, seeded: Account, flask_side: Counting, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("bug in the fast path")

    monkeypatch.setattr(middleware, "lookup_once", broken)
    with caplog.at_level(logging.ERROR, logger="webapi.fetch.middleware"):
        status, _, _ = call(app.wsgi_app, BASE, seeded.headers("viewer"))
    assert status == "200 OK" and flask_side.calls == 1
    assert "bug in the fast path" in caplog.text


def test_the_hooks_the_fast_path_skips_are_the_ones_it_knows(app: Flask) -> None:
    # A new before/after/teardown hook would not run for fast fetches: when this fails, decide
    # whether the fast path (webapi/fetch/middleware.py) must do what the hook does, then update
    # this list.
    def names(funcs: Any) -> set[str]:
        return {f"{f.__module__}.{f.__qualname__}" for f in funcs}

    assert names(app.before_request_funcs.get(None, [])) == {
        "webapi.api.register.<locals>._no_nul_in_api_requests"}
    assert names(app.after_request_funcs.get(None, [])) == {
        "webapi._register_basics.<locals>.after_request"}
    assert set(app.before_request_funcs) | set(app.after_request_funcs) <= {None, "admin"}
    assert not app.teardown_request_funcs
    assert names(app.teardown_appcontext_funcs) == {
        "flask_sqlalchemy.extension.SQLAlchemy._teardown_session"}


def test_not_installed_when_cors_needs_flask_on_every_request(sqlite_url: str) -> None:
    cors = make_app(sqlite_url, CORS_ORIGINS=["https://app.example.com"])
    assert not isinstance(cors.wsgi_app, middleware.FetchFastPath)
    assert isinstance(make_app(sqlite_url).wsgi_app, middleware.FetchFastPath)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_fetch_connections_are_reused_and_closed_with_the_engine(
    app: Flask, seeded: Account
) -> None:
    # Postgres only: SQLite's fetch runs on a pooled connection (webapi/fetch/readers.py).
    with app.app_context():
        engine = db.engine
    for _ in range(5):
        assert call(app.wsgi_app, BASE, seeded.headers("viewer"))[0] == "200 OK"
    idle = [conn.driver for conn in idle_connections(engine).stack]
    assert len(idle) == 1  # one request at a time: one connection, used five times
    engine.dispose()
    assert idle[0].closed and idle_connections(engine).stack == []
    assert call(app.wsgi_app, BASE, seeded.headers("viewer"))[0] == "200 OK"  # a fresh one



def test_includes_and_an_etag_that_follows_them_on_both_paths(
    app: Flask, seeded: Account, flask_side: Counting
) -> None:
    web, editor = app.test_client(), seeded.headers("editor")
    prompts = "/api/v1/projects/demo/prompts"
    for slug, source in (("shared/tone", "template: 'Be brief.'\n"),
                         ("support/outer", "template: 'Hi. {{> shared/tone }}'\n")):
        assert web.post(f"{prompts}/{slug}", json={"source": source},
                        headers=editor).status_code == 201
    for slug in ("shared/tone", "support/outer"):
        assert web.put(f"{prompts}/{slug}/-/labels/production", json={"version": 1},
                       headers=seeded.headers("admin")).status_code == 200
    key = {"X-API-Key": seeded.keys["viewer"]}
    outer = f"{prompts}/support/outer"
    paths = [outer, f"{outer}?label=production", "/api/v1/prompts/support/outer"]

    def both(path: str, headers: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
        calls = flask_side.calls
        fast = call(app.wsgi_app, path, headers)
        assert flask_side.calls == calls, f"the fast path left {path} to Flask"
        assert fast == call(flask_side.general, path, headers), path
        return fast[0], dict(fast[1]), fast[2]

    before = {}
    for path in paths:
        status, headers, body = both(path, key)
        assert status == "200 OK"
        shown = json.loads(body)
        assert shown["includes"] == [{"slug": "shared/tone", "ref": (
            "production" if "label" in path else "latest"), "version": 1}]
        assert headers["ETag"] != f'"{shown["sha256"]}"'  # covers the partial too
        before[path] = headers["ETag"]
        assert both(path, {**key, "If-None-Match": headers["ETag"]})[0] == "304 NOT MODIFIED"
        # The version's own hash (what a client may hold) no longer stands for the answer.
        assert both(path, {**key, "If-None-Match": f'"{shown["sha256"]}"'})[0] == "200 OK"
    # A new version of the partial: the latest's ETag changes on both paths, the production
    # one (whose include follows the production label) does not.
    assert web.post(f"{prompts}/shared/tone", json={"source": "template: 'Be kind.'\n"},
                    headers=editor).status_code == 201
    for path in paths:
        status, headers, body = both(path, {**key, "If-None-Match": before[path]})
        if "label" in path:
            assert status == "304 NOT MODIFIED"
        else:
            assert status == "200 OK" and headers["ETag"] != before[path]
            assert json.loads(body)["includes"][0]["version"] == 2
    # By number it is no longer immutable: what it includes may move.
    assert both(f"{outer}?version=1", key)[1]["Cache-Control"] == "private, no-cache"
    # Prompts without includes keep the plain hash as their ETag and an empty list.
    status, headers, body = both(BASE, key)
    assert headers["ETag"] == f'"{json.loads(body)["sha256"]}"'
    assert json.loads(body)["includes"] == []
