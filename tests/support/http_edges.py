"""The HTTP edge tests' site (tests/server/test_http_edges.py and test_http_bodies.py): one app
with demo/support/greeting at versions 1..3, production and staging on 2, ann's account and a
logged-in session; the one JSON error shape; the documented /api/v1 paths with sample values."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import GREETING, Account, dispose_app, login, make_account, make_app
from webapi.openapi.document import openapi_document

LIMIT = 16 * 1024  # MAX_CONTENT_LENGTH here: bodies over it are cheap to build
PROMPT = "/api/v1/projects/demo/prompts/support/greeting"
SHORT = "/api/v1/prompts/support/greeting"


@dataclass
class Edges:
    """The app of one backend, ann's account, and a logged-in client with its CSRF header."""

    app: Flask
    account: Account
    session: FlaskClient
    csrf: dict[str, str]


@contextmanager
def edges_site(url: str) -> Iterator[Edges]:
    """demo/support/greeting at versions 1..3 with production and staging on 2, on ``url``."""
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
    try:
        yield Edges(app, account, session, csrf)
    finally:
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
