"""The real app under test settings and its disposal, Postgres availability, accounts made
through the API, and a snapshot of everything a write could change."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from webapi import create_app
from webapi.extensions import db

PG_ADMIN_URL = os.environ.get("PROMPTSYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# No request log: tests/server/test_ops.py tests it; elsewhere it would only fill the captured
# stderr of every failure report (and app.wsgi_app stays the fast fetch path, as tests expect).
# LIVE_STREAM_SECONDS: an event stream (or long poll) served in-process ends after 50 ms, so
# the test client, which reads a body whole, is not held (tests/server/test_live_hub.py
# drives the body itself). LIVE_LINGER_SECONDS: the hub thread a stream started (`promptsync
# watch` listens) ends soon after its last subscriber, within the thread-leak guards' grace.
TEST_CONFIG = {"TESTING": True, "BCRYPT_ROUNDS": 4, "SECRET_KEY": "test-secret-not-for-production",
               "LOG_FORMAT": "off", "LIVE_STREAM_SECONDS": 0.05, "LIVE_LINGER_SECONDS": 0.5}
BACKENDS = ["sqlite", "postgres"]
# The base URL of the app served in-process: httpx's WSGI transport answers for any host.
IN_PROCESS = "http://testserver"


def migrate(url: str) -> None:
    """Create or upgrade the schema of the database at ``url`` with the packaged migrations."""
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def postgres_unavailable() -> str | None:
    """Why the test Postgres cannot be used, or None."""
    try:
        psycopg2.connect(PG_ADMIN_URL, connect_timeout=3).close()
    except Exception as exc:  # any failure means "not available here"
        return f"Postgres at {PG_ADMIN_URL} is not reachable: {exc}".strip()
    return None


def require_postgres() -> None:
    """Skip outside CI, fail in CI, when Postgres is missing."""
    reason = postgres_unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI needs Postgres: {reason}")
    pytest.skip(reason)


def truncate_postgres(url: str) -> None:
    """Empty every table of a migrated Postgres test database."""
    tables = "events, labels, prompt_versions, prompts, api_keys, memberships, invitations, " \
             "projects, users, login_throttle"
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    conn.close()


def terminate_backends(url: str) -> int:
    """Terminate every Postgres backend of the database at ``url`` (what a restart does to the
    app's pooled connections) and wait until they are gone; the number terminated."""
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    with psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres") as conn, conn.cursor() as cur:
        # With a timeout (ms) the call returns once each backend has exited, its socket closed.
        cur.execute("SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        killed = int(cur.fetchone()[0])
    conn.close()
    return killed


def make_app(url: str, **overrides: Any) -> Flask:
    """The real app on the given database with test settings."""
    return create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, **overrides})


def dispose_app(app: Flask) -> None:
    """Drop the app's session and its connection pool, so no connection outlives the test."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def running_app(url: str, **overrides: Any) -> Iterator[Flask]:
    """make_app for the length of a block (a fixture's yield), disposed of afterwards."""
    app = make_app(url, **overrides)
    try:
        yield app
    finally:
        dispose_app(app)


@dataclass
class Account:
    """A signed-up user with a project and an API key per role."""

    email: str
    password: str
    project: str
    keys: dict[str, str]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def signup(client: FlaskClient, email: str, password: str = "correct horse battery") -> None:
    """Create a user through the API."""
    response = client.post("/api/v1/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.get_json()


def login(client: FlaskClient, email: str, password: str = "correct horse battery") -> str:
    """Log in through the API; returns the CSRF token."""
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["csrf_token"])


def add_member(app: Flask, project: str, email: str, role: str, headers: dict[str, str],
               password: str = "correct horse battery") -> None:
    """Make a signed-up user a member the only way there is: invite (with the admin's
    `headers`), then accept as that user. A member already just gets the role."""
    web = app.test_client()
    response = web.put(f"/api/v1/projects/{project}/members/{email}", json={"role": role},
                       headers=headers)
    if response.status_code == 200:
        return
    assert response.status_code == 202, response.get_json()
    invitation = response.get_json()["invitation"]["id"]
    invitee = app.test_client()
    token = login(invitee, email, password)
    response = invitee.post(f"/api/v1/invitations/{invitation}/accept",
                            headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.get_json()


def make_account(app: Flask, email: str = "ann@example.com", project: str = "demo") -> Account:
    """A user who owns a project and holds a viewer, an editor and an admin key for it."""
    web = app.test_client()
    signup(web, email)
    csrf = login(web, email)
    headers = {"X-CSRF-Token": csrf}
    response = web.post("/api/v1/projects", json={"slug": project, "name": project.title()},
                        headers=headers)
    assert response.status_code == 201, response.get_json()
    keys = {}
    for role in ("viewer", "editor", "admin"):
        response = web.post(f"/api/v1/projects/{project}/keys", json={"name": role, "role": role},
                            headers=headers)
        assert response.status_code == 201, response.get_json()
        keys[role] = response.get_json()["key"]
    return Account(email, "correct horse battery", project, keys)


TABLES = ("users", "projects", "memberships", "invitations", "api_keys", "prompts",
          "prompt_versions", "labels", "events", "label_moves", "project_settings", "promotions")
MUTABLE = {
    "roles": "SELECT project_id, user_id, role FROM memberships",
    "labels": "SELECT prompt_id, name, version FROM labels",
    "revoked": "SELECT id FROM api_keys WHERE revoked_at IS NOT NULL",
    "sessions": "SELECT id, session_generation FROM users",
    "counters": "SELECT id, latest_version FROM prompts",
    "settings": "SELECT project_id, approvals_required, protected_requires_clean_commit "
                "FROM project_settings",
    "promotions": "SELECT id, state FROM promotions",
    "archived": "SELECT id, archived_at FROM prompts WHERE archived_at IS NOT NULL",
}


def snapshot(app: Flask) -> dict[str, Any]:
    """Everything a write could change (row counts and the mutable columns), for before/after."""
    with app.app_context():
        counts = ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)
        state: dict[str, Any] = dict(zip(TABLES, db.session.execute(text(f"SELECT {counts}")).one(),
                                         strict=True))
        for name, sql in MUTABLE.items():
            state[name] = sorted(tuple(row) for row in db.session.execute(text(sql)))
        db.session.remove()
    return state


GREETING = """\
description: Greets a customer by name
model: gpt-4o-mini
variables:
  name: {description: customer first name, default: there}
  topic: {required: true}
template: |
  Hello {{ name }}, thanks for asking about {{ topic }}.
"""


GREETING_URL = "/api/v1/projects/demo/prompts/support/greeting"
