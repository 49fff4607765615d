"""Operations through the real app: /healthz, /readyz on real SQLite and Postgres (unreachable,
behind the migrations' head, at it), /metrics (routes as rules, fetches on either path,
pushes, nothing of the users'), and one request-log line per request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import upgrade
from prometheus_client.parser import text_string_to_metric_families

from tests.support.app import (
    GREETING,
    GREETING_URL,
    PG_ADMIN_URL,
    Account,
    make_account,
    make_app,
    require_postgres,
    running_app,
)
from tests.support.live import free_port
from tests.support.module_database import backend_url
from webapi import MIGRATIONS
from webapi.api.prompts import SUB_RESOURCES
from webapi.config import ConfigurationError
from webapi.fetch.middleware import FetchFastPath
from webapi.ops import metrics
from webapi.ops.observe import Observed
from webapi.ops.request_log import text_line

SHORT_URL = "/api/v1/prompts/support/greeting"
BACKEND_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def scrape(app: Flask) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, by (name, labels)."""
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200, answer.data
    assert answer.content_type.startswith("text/plain; version=")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.data.decode())
            for sample in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- /healthz and /readyz --------------------------------------------------------------------


def _unreachable(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":  # a folder that does not exist: the file cannot be opened
        return f"sqlite:///{tmp_path / 'gone' / 'test.db'}"
    return f"postgresql://postgres@127.0.0.1:{free_port()}/promptsync"  # nothing listens


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_healthz_needs_no_database_and_readyz_says_it_is_unreachable(
        backend: str, tmp_path: Path) -> None:
    with running_app(_unreachable(backend, tmp_path)) as app:
        client = app.test_client()
        health = client.get("/healthz")
        assert (health.status_code, health.get_json()) == (200, {"status": "ok"})
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["database"] == "unreachable"
        assert ready.headers["Cache-Control"] == "no-store"
        assert client.head("/readyz").status_code == 503


@pytest.fixture(params=BACKEND_PARAMS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all: a new SQLite file, or a new Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    require_postgres()
    name = f"promptsync_ops_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def test_readyz_is_503_until_the_schema_is_at_the_head(empty_database: str) -> None:
    script = ScriptDirectory(MIGRATIONS)
    (head,) = script.get_heads()
    before_head = script.get_revision(head).down_revision
    assert isinstance(before_head, str)
    with running_app(empty_database) as app:
        client = app.test_client()

        def ready() -> tuple[int, dict[str, Any]]:
            answer = client.get("/readyz")
            return answer.status_code, answer.get_json()

        assert ready() == (503, {
            "error": "unavailable", "status": "unavailable", "database": "ok",
            "schema": {"current": None, "head": head},
            "detail": "The database schema is not at the migrations' head: "
                      "run `flask --app webapi db upgrade`."})
        with app.app_context():
            upgrade(revision=before_head)
        status, body = ready()
        assert status == 503 and body["schema"] == {"current": before_head, "head": head}, body
        with app.app_context():
            upgrade()
        assert ready() == (200, {"status": "ready", "database": "ok",
                                 "schema": {"current": head, "head": head}})
        assert client.get("/healthz").status_code == 200


# --- /metrics --------------------------------------------------------------------------------


def test_metrics_are_off_unless_enabled(sqlite_app: Flask) -> None:
    answer = sqlite_app.test_client().get("/metrics")
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"
    # Nor is anything put in front of the fast fetch path (the test settings log nothing).
    assert isinstance(sqlite_app.wsgi_app, FetchFastPath)


def test_a_bad_log_format_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ConfigurationError, match="LOG_FORMAT must be one of text, json, off"):
        make_app(sqlite_url, LOG_FORMAT="xml")


@pytest.mark.parametrize("command", [["-m", "flask", "--app", "webapi", "db", "upgrade"],
                                     ["-m", "webapi.webhooks"]])
def test_a_missing_secret_key_is_one_line_for_the_operator(tmp_path: Path,
                                                           command: list[str]) -> None:
    # Deployment's first steps without SECRET_KEY printed a 30-line traceback.
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "FLASK_APP") and not k.startswith("PROMPTSYNC_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ops.db'}"
    done = subprocess.run([sys.executable, *command], env=env, cwd=tmp_path, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(
        "SECRET_KEY is not set: set it to a long random string (python -c 'import secrets; "
        "print(secrets.token_hex(32))'), or set PROMPTSYNC_ENV=development for a local "
        "throwaway server")


def test_every_sub_resource_of_a_prompt_has_a_route_label() -> None:
    # A new sub-resource would be counted as <other>: give it its own label in metrics.py.
    assert {key.split("/")[0] for key in SUB_RESOURCES if key} == metrics.SUB_RESOURCES


@dataclass
class Ops:
    """An app with metrics and JSON request logs, an account, and a count of what reached
    Flask behind the fast fetch path."""

    app: Flask
    account: Account
    behind_fast_path: list[str]


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def ops(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Ops]:
    url = backend_url(request, tmp_path_factory, "ops")
    with running_app(url, METRICS_ENABLED=True, LOG_FORMAT="json") as app:
        account = make_account(app)
        created = app.test_client().post(GREETING_URL, json={"source": GREETING},
                                         headers=account.headers("editor"))
        assert created.status_code == 201, created.get_json()
        observed = app.wsgi_app
        assert isinstance(observed, Observed) and isinstance(observed.app, FetchFastPath)
        fast, reached = observed.app, []
        general = fast.general

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            reached.append(environ["PATH_INFO"])
            return general(environ, start_response)

        fast.general = counting
        yield Ops(app, account, reached)


def test_fetches_are_counted_on_either_path_under_the_route_rule(ops: Ops) -> None:
    client, viewer = ops.app.test_client(), ops.account.headers("viewer")
    before = scrape(ops.app)
    ops.behind_fast_path.clear()
    for url in (GREETING_URL + "?version=1", GREETING_URL, SHORT_URL + "?version=1", SHORT_URL):
        assert client.get(url, headers=viewer).status_code == 200
    missing = client.get("/api/v1/projects/demo/prompts/no/such-prompt", headers=viewer)
    assert missing.status_code == 404
    assert ops.behind_fast_path == ["/api/v1/projects/demo/prompts/no/such-prompt"]
    after = scrape(ops.app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert {(way, status): delta("promptsync_fetches_total", answered_by=way, status=status)
            for way in ("fast_path", "flask") for status in ("200", "404")} == {
        ("fast_path", "200"): 4, ("fast_path", "404"): 0,
        ("flask", "200"): 0, ("flask", "404"): 1}
    project_rule, key_rule = metrics.FAST_PROJECT_RULE, metrics.FAST_KEY_RULE
    assert delta("promptsync_http_requests_total", method="GET", route=project_rule,
                 status="200") == 2
    assert delta("promptsync_http_requests_total", method="GET", route=project_rule,
                 status="404") == 1
    assert delta("promptsync_http_requests_total", method="GET", route=key_rule,
                 status="200") == 2
    assert delta("promptsync_http_request_duration_seconds_count", method="GET",
                 route=project_rule) == 3


def test_pushes_and_sub_resources_are_labelled_by_rule_never_by_path(ops: Ops) -> None:
    client, editor = ops.app.test_client(), ops.account.headers("editor")
    before = scrape(ops.app)
    one = client.post(GREETING_URL, json={"source": GREETING + "# two\n"}, headers=editor)
    assert one.status_code == 201, one.get_json()
    batch = client.post("/api/v1/projects/demo/prompts", headers=editor, json={
        "prompts": [{"slug": "billing/refund", "source": GREETING}]})
    assert batch.status_code == 200, batch.get_json()
    assert client.get(GREETING_URL + "/-/versions", headers=editor).status_code == 200
    assert client.get(GREETING_URL + "/-/labels/production/history",
                      headers=editor).status_code in (200, 404)
    email = ops.account.email
    assert client.get(f"/api/v1/no/such/{email}").status_code == 404
    assert client.put(f"/api/v1/projects/demo/members/{email}", json={"role": "admin"},
                      headers=ops.account.headers("admin")).status_code == 200
    after = scrape(ops.app)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("promptsync_pushes_total", kind="one", status="201") == 1
    assert delta("promptsync_pushes_total", kind="batch", status="200") == 1
    item = "/api/v1/projects/<p>/prompts/<slug>"
    assert delta("promptsync_http_requests_total", method="GET", route=item + "/-/versions",
                 status="200") == 1
    assert sum(delta("promptsync_http_requests_total", method="GET", status=s,
                     route=item + "/-/labels/<label>/history") for s in ("200", "404")) == 1
    assert delta("promptsync_http_requests_total", method="GET", route=metrics.UNMATCHED,
                 status="404") == 1
    assert delta("promptsync_http_requests_total", method="PUT", status="200",
                 route="/api/v1/projects/<p>/members/<email>") == 1
    text = ops.app.test_client().get("/metrics").data.decode()
    for private in ("support/greeting", "billing", email, "psk_", "demo"):
        assert private not in text


# --- the request log -------------------------------------------------------------------------


def test_one_json_line_per_request_fast_path_included(
        ops: Ops, capsys: pytest.CaptureFixture[str]) -> None:
    client = ops.app.test_client()
    capsys.readouterr()
    assert client.get(GREETING_URL + "?version=1", headers=ops.account.headers()).status_code \
        == 200
    assert client.get("/api/v1/nope").status_code == 404
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    fetch, miss = map(json.loads, lines)
    assert {key: fetch[key] for key in ("method", "path", "query", "status")} == {
        "method": "GET", "path": GREETING_URL, "query": "version=1", "status": 200}
    assert fetch["duration_ms"] >= 0 and fetch["time"].endswith("Z")
    assert (miss["path"], miss["status"]) == ("/api/v1/nope", 404)


def test_text_lines_escape_what_a_client_sends(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with running_app(sqlite_url, LOG_FORMAT="text") as app:
        capsys.readouterr()
        assert app.test_client().get("/api/v1/a%0Afake%20200%22line").status_code == 404
        assert app.test_client().get("/healthz").status_code == 200
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert '"GET /api/v1/a\\nfake 200\\"line" 404 ' in lines[0]
    assert '"GET /healthz" 200 ' in lines[1]


def test_log_lines_show_a_non_ascii_path_as_sent(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The WSGI path holds the bytes as latin-1: "ünï" was logged as "Ã¼nÃ¯". Decoded, a
    # right-to-left override (U+202E) or a byte that is not UTF-8 is still shown escaped.
    path = "/api/v1/%C3%BCn%C3%AF/%E2%80%AE"
    with running_app(sqlite_url, LOG_FORMAT="text") as app:
        capsys.readouterr()
        assert app.test_client().get(path).status_code == 404
    [line] = capsys.readouterr().err.splitlines()
    assert '"GET /api/v1/ünï/\\u202e" 404 ' in line
    with running_app(sqlite_url, LOG_FORMAT="json") as app:
        capsys.readouterr()
        assert app.test_client().get(path).status_code == 404
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["path"] == "/api/v1/ünï/\u202e"
    # A byte that is not UTF-8, as a real server passes it (the test client cannot send one).
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/\xc3\xbc/\xff"}
    assert '"GET /api/v1/ü/\\xff" 404' in text_line(environ, "404", 0.0, 0.0)
