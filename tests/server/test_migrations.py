"""Upgrading a database that holds data to the head, on SQLite and Postgres, from the revision
before invitations and from the one before the prompt lifecycle: every row kept, a working
schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from promptsync.format.prompt import parse_prompt, source_sha256
from tests.support.app import (
    GREETING,
    add_member,
    login,
    make_app,
    running_app,
)
from webapi.auth.keys import new_api_key
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
SEED_TABLES = ("users", "projects", "memberships")


@contextmanager
def _seeded(empty_url: str, revision: str, statements: list[str], params: dict[str, str],
            tables: tuple[str, ...]) -> Iterator[None]:
    """The database at ``revision`` with ``statements`` run (explicit ids: the Postgres sequences
    of ``tables`` moved past them), in an app's context; its connections closed afterwards."""
    old = make_app(empty_url)
    with old.app_context():
        upgrade(revision=revision)
        for statement in statements:
            db.session.execute(text(statement), params)
        db.session.commit()
        if empty_url.startswith("postgresql"):
            for table in tables:
                db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
            db.session.commit()
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def test_an_old_database_with_data_upgrades_to_invitations(empty_url: str) -> None:
    with _seeded(empty_url, BEFORE_INVITATIONS, SEED, {"hash": HASH}, SEED_TABLES):
        upgrade()
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            != BEFORE_INVITATIONS
        rows = db.session.execute(text(
            "SELECT u.email, p.slug, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
            "JOIN projects p ON p.id = m.project_id")).all()
        assert [tuple(r) for r in rows] == [("old@example.com", "legacy", "admin")]
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


BEFORE_LIFECYCLE = "0002"
PROMPTS_SEED = [
    "INSERT INTO prompts (id, project_id, slug, latest_version, created_at, updated_at) VALUES "
    "(1, 1, 'support/greeting', 2, '2026-01-01 00:00:00', '2026-01-02 00:00:00'), "
    "(2, 1, 'support/old', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    "INSERT INTO prompt_versions (id, prompt_id, version, sha256, source, data, message, author, "
    "created_at) VALUES "
    "(1, 1, 1, :sha1, :source1, :data, 'first', 'old@example.com', '2026-01-01 00:00:00'), "
    "(2, 1, 2, :sha2, :source2, :data, NULL, 'old@example.com', '2026-01-02 00:00:00'), "
    "(3, 2, 1, :sha3, :source3, :data, NULL, 'old@example.com', '2026-01-01 00:00:00')",
    "INSERT INTO labels (id, prompt_id, name, version, updated_at) VALUES "
    "(1, 1, 'production', 1, '2026-01-02 00:00:00'), (2, 2, 'staging', 1, '2026-01-02 00:00:00')",
    "INSERT INTO api_keys (id, project_id, created_by_id, name, role, prefix, secret_hash, "
    "created_at) VALUES (1, 1, 1, 'ci', 'admin', :prefix, :secret_hash, '2026-01-01 00:00:00')",
]
PROMPTS_TABLES = SEED_TABLES + ("prompts", "prompt_versions", "labels", "api_keys")


def _prompts_params() -> tuple[str, dict[str, str]]:
    """A new admin key, and the parameters of SEED + PROMPTS_SEED with that key's hash: three
    versions of GREETING (the third of another prompt), their sources and sha256s."""
    sources = [GREETING, GREETING + "# 2\n", GREETING + "# old\n"]
    key, prefix, secret_hash = new_api_key()
    params = {"hash": HASH, "prefix": prefix, "secret_hash": secret_hash,
              "data": json.dumps(parse_prompt(GREETING.encode(), "x").to_dict())}
    for n, source in enumerate(sources, start=1):
        params[f"source{n}"] = source
        params[f"sha{n}"] = source_sha256(source.encode())
    return key, params


def test_a_database_with_prompts_upgrades_to_lifecycle(empty_url: str) -> None:
    """From 0002 with prompts, versions, labels and a key: every row kept, every prompt live,
    and archive, fetch by number and rename work on the old rows."""
    key, params = _prompts_params()
    with _seeded(empty_url, BEFORE_LIFECYCLE, SEED + PROMPTS_SEED, params, PROMPTS_TABLES):
        upgrade()
        assert db.session.execute(text(
            "SELECT count(*) FROM prompts WHERE archived_at IS NULL")).scalar() == 2
        rows = db.session.execute(text(
            "SELECT prompt_id, version, sha256, renamed_from FROM prompt_versions ORDER BY id"
        )).all()
        assert [tuple(r) for r in rows] == [(1, 1, params["sha1"], None),
                                            (1, 2, params["sha2"], None),
                                            (2, 1, params["sha3"], None)]
    with running_app(empty_url) as app:
        web = app.test_client()
        admin = {"X-API-Key": key}
        base = "/api/v1/projects/legacy/prompts"
        manifest = web.get(base, headers=admin).get_json()["prompts"]
        assert [(p["slug"], p["version"], p["labels"], p["archived_at"]) for p in manifest] == [
            ("support/greeting", 2, {"production": 1}, None),
            ("support/old", 1, {"staging": 1}, None)]
        fetched = web.get(f"{base}/support/greeting?label=production", headers=admin)
        assert fetched.status_code == 200
        assert (fetched.get_json()["version"], fetched.get_json()["renamed_from"]) == (1, None)
        # The old rows take part in the lifecycle: a rename of one, an archive of the other.
        renamed = web.post(f"{base}/support/new", headers=admin, json={
            "source": params["source3"], "renamed_from": "support/old", "renamed_from_version": 1})
        assert renamed.status_code == 201, renamed.get_json()
        assert renamed.get_json()["renamed_from"] == "support/old@v1"
        assert web.delete(f"{base}/support/greeting", headers=admin).status_code == 409
        assert web.delete(f"{base}/support/greeting?force=true", headers=admin).status_code == 204
        assert web.get(f"{base}/support/greeting", headers=admin).status_code == 410
        assert web.get(f"{base}/support/greeting?version=2", headers=admin).status_code == 200
        assert [p["slug"] for p in web.get(base, headers=admin).get_json()["prompts"]] == [
            "support/new"]


BEFORE_WEBHOOKS = "0004"


def test_a_database_with_events_upgrades_to_webhooks(empty_url: str) -> None:
    """From 0004 with a project, a prompt and its events: every row kept, no delivery made up
    for old events, and a webhook made afterwards gets the outbox rows of new events."""
    key, prefix, secret_hash = new_api_key()
    statements = SEED + [
        "INSERT INTO api_keys (id, project_id, created_by_id, name, role, prefix, "
        "secret_hash, created_at) VALUES (1, 1, 1, 'ci', 'admin', :prefix, :secret_hash, "
        "'2026-01-01 00:00:00')",
        "INSERT INTO events (id, project_id, actor, action, slug, details, created_at) "
        "VALUES (1, 1, 'old@example.com', 'project.created', NULL, '{}', "
        "'2026-01-01 00:00:00')",
    ]
    params = {"hash": HASH, "prefix": prefix, "secret_hash": secret_hash}
    with _seeded(empty_url, BEFORE_WEBHOOKS, statements, params,
                 SEED_TABLES + ("api_keys", "events")):
        upgrade()
        assert db.session.execute(text("SELECT count(*) FROM events")).scalar() == 1
        assert db.session.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar() == 0
    with running_app(empty_url) as app:
        web = app.test_client()
        admin = {"X-API-Key": key}
        made = web.post("/api/v1/projects/legacy/webhooks", headers=admin, json={
            "url": "https://93.184.215.14/hook", "events": ["version.created"]})
        assert made.status_code == 201, made.get_json()
        assert web.post("/api/v1/projects/legacy/prompts/a/b", headers=admin,
                        json={"source": GREETING}).status_code == 201
        log = web.get(f"/api/v1/projects/legacy/webhooks/{made.get_json()['id']}/deliveries",
                      headers=admin).get_json()["deliveries"]
        assert [(d["action"], d["slug"], d["status"]) for d in log] == [
            ("version.created", "a/b", "pending")]


BEFORE_PARTIALS = "0006"


def test_a_database_with_versions_upgrades_to_partials(empty_url: str) -> None:
    """From 0006 with prompts, versions, labels and a key: every version kept, none with
    partials; the old versions fetch as before (their ETag the hash, no includes), and a new
    version including a new partial is fetched with it."""
    key, params = _prompts_params()
    with _seeded(empty_url, BEFORE_PARTIALS, SEED + PROMPTS_SEED, params, PROMPTS_TABLES):
        upgrade()
        rows = db.session.execute(text(
            "SELECT prompt_id, version, sha256, partials FROM prompt_versions ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, 1, params["sha1"], None),
                                            (1, 2, params["sha2"], None),
                                            (2, 1, params["sha3"], None)]
    with running_app(empty_url) as app:
        web = app.test_client()
        admin = {"X-API-Key": key}
        base = "/api/v1/projects/legacy/prompts"
        fetched = web.get(f"{base}/support/greeting?label=production", headers=admin)
        assert fetched.status_code == 200
        assert fetched.headers["ETag"] == f'"{params["sha1"]}"'
        assert fetched.get_json()["includes"] == []
        assert web.post(f"{base}/shared/tone", headers=admin,
                        json={"source": "template: 'Be brief.'\n"}).status_code == 201
        changed = web.post(f"{base}/support/old", headers=admin, json={
            "source": "template: 'Old, {{> shared/tone }}'\n"})
        assert changed.status_code == 201, changed.get_json()
        now = web.get(f"{base}/support/old", headers=admin).get_json()
        assert now["includes"] == [{"slug": "shared/tone", "ref": "latest", "version": 1}]
        assert web.get(f"{base}/shared/tone/-/dependents", headers=admin).get_json() == {
            "dependents": [{"slug": "support/old",
                            "via": [{"ref": "latest", "version": now["version"]}]}]}


BEFORE_VOUCHING = "0007"


def test_a_database_with_versions_upgrades_to_vouched_provenance(empty_url: str) -> None:
    """From 0007 with prompts, versions (pushed from outside git), labels and a key: every
    version kept as it was; under the clean-commit rule a clean file with an old version's
    bytes vouches for it and production moves; down to 0007 and up again."""
    key, params = _prompts_params()
    with _seeded(empty_url, BEFORE_VOUCHING, SEED + PROMPTS_SEED, params, PROMPTS_TABLES):
        upgrade()
    with running_app(empty_url) as app:
        web, admin = app.test_client(), {"X-API-Key": key}
        base = "/api/v1/projects/legacy"
        assert web.put(f"{base}/settings", headers=admin, json={
            "protected_requires_clean_commit": True}).status_code == 200
        label = f"{base}/prompts/support/greeting/-/labels/production"
        assert web.put(label, json={"version": 2}, headers=admin).status_code == 409
        git = {"commit": "a" * 40, "branch": "main", "dirty": False, "path": "p/g.yaml"}
        moved = web.put(label, json={"version": 2, "git": git, "sha256": params["sha2"]},
                        headers=admin)
        assert moved.status_code == 200, moved.get_json()
        with app.app_context():
            rows = db.session.execute(text(
                "SELECT prompt_id, version, git FROM version_provenance")).all()
            assert [(r[0], r[1], r[2] if isinstance(r[2], dict) else json.loads(r[2]))
                    for r in rows] == [(1, 2, git)]
            db.session.remove()
            downgrade(revision=BEFORE_VOUCHING)
            assert db.session.execute(text("SELECT count(*) FROM prompt_versions")).scalar() == 3
            upgrade()
            assert db.session.execute(text("SELECT count(*) FROM version_provenance")
                                      ).scalar() == 0
            db.session.remove()
