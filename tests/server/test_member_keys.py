"""Removing a member revokes every key they created in that project, on SQLite and
Postgres: refused at once on the fast fetch path and the general one, each revocation an event,
and re-adding the member does not bring a key back. Keys elsewhere stay alive."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy
from flask import Flask
from werkzeug.test import TestResponse

from tests.support.app import (
    GREETING,
    Account,
    add_member,
    login,
    make_account,
    running_app,
    signup,
    truncate_postgres,
)
from webapi.config import normalise_database_url
from webapi.extensions import db

PASSWORD = "correct horse battery"
# Three ways a key fetches a prompt: the fast path on the project route and on the key's
# shorthand, and the general path (a cookie beside the key sends it to Flask).
RANKS = ("viewer", "editor", "admin")
FETCHES = ("/api/v1/projects/demo/prompts/support/greeting", "/api/v1/prompts/support/greeting")


def _json(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _fetch_statuses(app: Flask, key: str) -> list[tuple[int, str]]:
    """(status, error detail or '') of every way of fetching the greeting with ``key``."""
    answers = []
    for path in FETCHES:
        for cookie in (False, True):
            web = app.test_client()  # a fresh client: no cookie, so the fast path takes it
            if cookie:
                web.set_cookie("unrelated", "1")  # any cookie leaves it to the Flask view
            response = web.get(path, headers={"X-API-Key": key})
            body = response.get_json() or {}
            answers.append((response.status_code, str(body.get("detail", ""))))
    me = app.test_client().get("/api/v1/me", headers={"X-API-Key": key})
    answers.append((me.status_code, str((me.get_json() or {}).get("detail", ""))))
    return answers


def _alive(app: Flask, key: str) -> bool:
    answers = _fetch_statuses(app, key)
    assert all(status == 200 for status, _ in answers), answers
    return True


def _revoked(app: Flask, key: str) -> bool:
    answers = _fetch_statuses(app, key)
    assert answers == [(401, "The API key has been revoked.")] * len(answers), answers
    return True


def _events(app: Flask, owner: Account) -> list[dict[str, Any]]:
    """The project's events, oldest first."""
    page = _json(app.test_client().get(f"/api/v1/projects/{owner.project}/events?limit=200",
                                       headers=owner.headers("admin")))
    return list(reversed(page["events"]))


@pytest.mark.parametrize(("remover", "role"), [("an admin", "admin"), ("an admin", "viewer"),
                                              ("themselves", "admin"), ("themselves", "editor")])
def test_removing_a_member_revokes_their_keys_for_good(
    app: Flask, remover: str, role: str
) -> None:
    owner = make_account(app, "ann@example.com", "demo")
    pushed = app.test_client().post(FETCHES[0], json={"source": GREETING},
                                    headers=owner.headers("editor"))
    assert pushed.status_code == 201
    bob = app.test_client()
    signup(bob, "bob@example.com", PASSWORD)
    add_member(app, "demo", "bob@example.com", role, owner.headers("admin"))
    csrf = login(bob, "bob@example.com", PASSWORD)
    bob_headers = {"X-CSRF-Token": csrf}

    # Bob's keys of every role, one he revoked himself, and keys that must outlive his removal:
    # his own in another project, and another member's in this one.
    mine = [_json(bob.post("/api/v1/projects/demo/keys", json={"name": f"bob {key_role}",
                                                               "role": key_role},
                           headers=bob_headers), 201) for key_role in RANKS[:RANKS.index(role) + 1]]
    gone = _json(bob.post("/api/v1/projects/demo/keys", json={"name": "old", "role": "viewer"},
                          headers=bob_headers), 201)
    assert bob.delete(f"/api/v1/projects/demo/keys/{gone['id']}",
                      headers=bob_headers).status_code == 204
    _json(bob.post("/api/v1/projects", json={"slug": "side"}, headers=bob_headers), 201)
    elsewhere = _json(bob.post("/api/v1/projects/side/keys", json={"name": "side", "role": "admin"},
                               headers=bob_headers), 201)
    assert all(_alive(app, key["key"]) for key in mine)
    before = len(_events(app, owner))

    if remover == "an admin":
        removal = app.test_client().delete("/api/v1/projects/demo/members/bob@example.com",
                                           headers=owner.headers("admin"))
        actor = f"{owner.email} (key {owner.keys['admin'][:12]})"
    else:
        removal = bob.delete("/api/v1/projects/demo/members/bob@example.com",
                             headers=bob_headers)
        actor = "bob@example.com"
    assert removal.status_code == 204, removal.get_data(as_text=True)

    assert all(_revoked(app, key["key"]) for key in mine)
    assert all(_alive(app, key) for key in owner.keys.values())
    side = app.test_client().get("/api/v1/projects/side/keys",
                                 headers={"X-API-Key": elsewhere["key"]})
    assert [k["id"] for k in _json(side)["keys"]] == [elsewhere["id"]]
    listed = _json(app.test_client().get("/api/v1/projects/demo/keys",
                                         headers=owner.headers("admin")))["keys"]
    assert {k["created_by"] for k in listed} == {owner.email}
    # One event per key revoked, after the removal (or leaving), by whoever removed him; none
    # for the key that was revoked already.
    events = _events(app, owner)[before:]
    assert events[0]["action"].startswith("member.") and events[0]["actor"] == actor
    assert events[0]["details"]["email"] == "bob@example.com"
    assert [(e["action"], e["actor"]) for e in events[1:]] == [("key.revoked", actor)] * len(mine)
    assert [(e["details"]["key_id"], e["details"]["prefix"], e["details"]["reason"])
            for e in events[1:]] == [(k["id"], k["prefix"], "member.removed") for k in mine]

    # Back in the project, with the same role: the old keys stay dead, new ones work.
    add_member(app, "demo", "bob@example.com", role, owner.headers("admin"))
    assert all(_revoked(app, key["key"]) for key in [*mine, gone])
    csrf = login(bob, "bob@example.com", PASSWORD)
    fresh = _json(bob.post("/api/v1/projects/demo/keys", json={"name": "new", "role": "viewer"},
                           headers={"X-CSRF-Token": csrf}), 201)
    assert _alive(app, fresh["key"])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_key_created_while_its_creator_is_removed_does_not_outlive_them(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url")
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        truncate_postgres(url)
    with running_app(url) as app:
        owner = make_account(app, "ann@example.com", "demo")
        bob = app.test_client()
        signup(bob, "bob@example.com", PASSWORD)
        add_member(app, "demo", "bob@example.com", "editor", owner.headers("admin"))
        csrf = login(bob, "bob@example.com", PASSWORD)
        with app.app_context():
            engine = db.engine
        about_to_insert = threading.Event()

        def spy(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO API_KEYS"):
                about_to_insert.set()

        # Another transaction removes bob and holds its write (and, on Postgres, the row lock)
        # while his key is being created: his role was read before the removal committed.
        removal = sqlalchemy.create_engine(normalise_database_url(url))
        conn = removal.connect()
        if backend == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        conn.execute(sqlalchemy.text(
            "DELETE FROM memberships WHERE user_id = (SELECT id FROM users WHERE email = "
            "'bob@example.com')"))
        sqlalchemy.event.listen(engine, "before_cursor_execute", spy)
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                created = pool.submit(lambda: bob.post(
                    "/api/v1/projects/demo/keys", json={"name": "racing", "role": "viewer"},
                    headers={"X-CSRF-Token": csrf}))
                assert about_to_insert.wait(timeout=10), "the key was never inserted"
                conn.commit()
                answer = created.result(timeout=30)
        finally:
            sqlalchemy.event.remove(engine, "before_cursor_execute", spy)
            conn.close()
            removal.dispose()
        # Either order is sound, a key that outlives the membership is not: refused as to any
        # non-member, with nothing stored.
        assert answer.status_code == 404, answer.get_data(as_text=True)
        listed = _json(app.test_client().get("/api/v1/projects/demo/keys",
                                             headers=owner.headers("admin")))["keys"]
        assert "racing" not in [k["name"] for k in listed]
