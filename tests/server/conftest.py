"""What the server tests share: a test client of the app, and a project with versions and labels."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.app import (
    BACKENDS,
    GREETING,
    GREETING_URL,
    PG_ADMIN_URL,
    Account,
    require_postgres,
)
from tests.support.http_edges import Edges, edges_site
from tests.support.lifecycle import Lab, lifecycle_lab
from tests.support.module_database import backend_url
from tests.support.releases import Team, release_team


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the real app (cookies kept between requests)."""
    return app.test_client()


@pytest.fixture
def seeded(app: Flask, account: Account) -> Account:
    """demo/support/greeting at versions 1..3, production and staging on version 2."""
    client = app.test_client()
    for n in (1, 2, 3):
        created = client.post(GREETING_URL, json={"source": GREETING + f"# {n}\n"},
                              headers=account.headers("editor"))
        assert created.status_code == 201
    for label in ("production", "staging"):
        moved = client.put(f"{GREETING_URL}/-/labels/{label}", json={"version": 2},
                           headers=account.headers("admin"))
        assert moved.status_code == 200
    return account


@pytest.fixture(scope="module", params=BACKENDS)
def team(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Team]:
    """One app per test module and backend, with a project of three admins (the release tests:
    each test makes prompts of its own, so they share the database)."""
    url = backend_url(request, tmp_path_factory, "releases")
    with release_team(url) as found:
        yield found


@pytest.fixture(scope="module", params=BACKENDS)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Lab]:
    """One app and account per test module and backend (the lifecycle tests: each test makes
    prompts of its own, so they share the database)."""
    url = backend_url(request, tmp_path_factory, "lifecycle")
    with lifecycle_lab(url) as found:
        yield found


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend (for the migration upgrade tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    require_postgres()
    name = f"promptsync_migrate_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module", params=BACKENDS)
def edges(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Edges]:
    """One app per test module and backend with demo/support/greeting at versions 1..3,
    production and staging on 2 (the HTTP edge tests: tests/support/http_edges.py)."""
    url = backend_url(request, tmp_path_factory, "edges")
    with edges_site(url) as found:
        yield found
