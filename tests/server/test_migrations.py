"""Upgrading a database that holds data: from the revision before invitations to the head, on
SQLite and Postgres, keeps every row and gives a working schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from tests.support.app import (
    BACKENDS,
    PG_ADMIN_URL,
    add_member,
    login,
    make_app,
    require_postgres,
    running_app,
)
from webapi.extensions import db

BEFORE_INVITATIONS = "0001"
HASH = "$2b$04$" + "x" * 53  # never checked: the rows are read, not logged into
SEED = [
    "INSERT INTO users (id, email, password_hash, session_generation, created_at) VALUES "
    "(1, 'old@example.com', :hash, 0, '2026-01-01 00:00:00')",
    "INSERT INTO projects (id, slug, name, created_at) VALUES "
    "(1, 'legacy', 'Legacy', '2026-01-01 00:00:00')",
    "INSERT INTO memberships (id, project_id, user_id, role, created_at) VALUES "
    "(1, 1, 1, 'admin', '2026-01-01 00:00:00')",
]


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on each backend."""
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


def test_an_old_database_with_data_upgrades_to_invitations(empty_url: str) -> None:
    old = make_app(empty_url)
    with old.app_context():
        upgrade(revision=BEFORE_INVITATIONS)
        for statement in SEED:
            db.session.execute(text(statement), {"hash": HASH})
        db.session.commit()
        if empty_url.startswith("postgresql"):  # explicit ids: move the sequences past them
            for table in ("users", "projects", "memberships"):
                db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1)"))
            db.session.commit()
        upgrade()
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            != BEFORE_INVITATIONS
        rows = db.session.execute(text(
            "SELECT u.email, p.slug, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
            "JOIN projects p ON p.id = m.project_id")).all()
        assert [tuple(r) for r in rows] == [("old@example.com", "legacy", "admin")]
        db.session.remove()
        db.engine.dispose()
    # The upgraded schema works end to end: a new admin invites, the invitee joins.
    with running_app(empty_url) as app:
        web = app.test_client()
        for email in ("new@example.com", "joiner@example.com"):
            assert web.post("/api/v1/auth/signup", json={
                "email": email, "password": "correct horse battery"}).status_code == 201
        token = login(web, "new@example.com")
        csrf = {"X-CSRF-Token": token}
        assert web.post("/api/v1/projects", json={"slug": "fresh"}, headers=csrf
                        ).status_code == 201
        key = web.post("/api/v1/projects/fresh/keys", json={"name": "ci", "role": "admin"},
                       headers=csrf).get_json()["key"]
        add_member(app, "fresh", "joiner@example.com", "editor", {"X-API-Key": key})
        members = web.get("/api/v1/projects/fresh/members", headers=csrf).get_json()
        assert sorted(m["email"] for m in members["members"]) == [
            "joiner@example.com", "new@example.com"]
