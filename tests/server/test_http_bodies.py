"""HTTP as the RFCs say, for request bodies: a chunked body over the limit is a 413 whatever
reads it, never cut short to the limit, through the real app on SQLite and Postgres (the `edges`
site of tests/support/http_edges.py); and the parts a server process changes (a chunked body as
gunicorn hands it over, HEAD and OPTIONS on the wire) once more against one real gunicorn.
"""

from __future__ import annotations

import http.client
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import GREETING, snapshot
from tests.support.gunicorn import Gunicorn
from tests.support.http_edges import LIMIT, PROMPT, SHORT, Edges, error_shape, fill
from tests.support.live import create_account
from webapi.openapi.document import openapi_document

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
