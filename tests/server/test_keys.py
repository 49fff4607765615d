"""API keys as personal tokens: members manage their own, admins manage all (SQLite, Postgres).

The who-may-call-which-route grid is in test_authz.py; these tests pin the object-level rules:
a member's key has at most their role, they see and revoke only keys they created, a key below
admin manages no keys, and refusals change nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import Account, add_member, login, make_account, signup

PASSWORD = "correct horse battery"
RANKS = ("viewer", "editor", "admin")


def _json(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _refused(response: TestResponse, status: int) -> str:
    body = _json(response, status)
    assert set(body) == {"error", "detail"}
    return str(body["detail"])


class Member:
    """A user signed in through the API (session + CSRF token) who is a member of a project."""

    def __init__(self, app: Flask, project: str, email: str) -> None:
        self.web: FlaskClient = app.test_client()
        self.project = project
        self.email = email
        self.headers = {"X-CSRF-Token": login(self.web, email, PASSWORD)}

    @property
    def keys_path(self) -> str:
        return f"/api/v1/projects/{self.project}/keys"

    def create(self, role: str, name: str = "laptop") -> TestResponse:
        return self.web.post(self.keys_path, json={"name": name, "role": role},
                             headers=self.headers)

    def listed(self) -> list[dict[str, Any]]:
        return list(_json(self.web.get(self.keys_path))["keys"])

    def revoke(self, key_id: int) -> TestResponse:
        return self.web.delete(f"{self.keys_path}/{key_id}", headers=self.headers)


@pytest.fixture
def owner(app: Flask) -> Account:
    return make_account(app, "ann@example.com", "team")


def _member(app: Flask, owner: Account, email: str, role: str) -> Member:
    web = app.test_client()
    signup(web, email, PASSWORD)
    add_member(app, owner.project, email, role, owner.headers("admin"), PASSWORD)
    return Member(app, owner.project, email)


def _state(app: Flask, owner: Account) -> tuple[list[Any], list[Any]]:
    """Every active key and every event of the project, as the admin sees them."""
    web = app.test_client()
    keys = _json(web.get(f"/api/v1/projects/{owner.project}/keys", headers=owner.headers()))
    events = _json(web.get(f"/api/v1/projects/{owner.project}/events", headers=owner.headers()))
    # last_used_at moves whenever a key is used, refused or not: not a change made by a refusal.
    return [{**k, "last_used_at": None} for k in keys["keys"]], events["events"]


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_a_member_creates_keys_up_to_their_own_role(app: Flask, owner: Account, role: str) -> None:
    member = _member(app, owner, f"{role}@example.com", role)
    allowed = RANKS[: RANKS.index(role) + 1]
    for key_role in allowed:
        created = _json(member.create(key_role, f"{key_role} key"), 201)
        assert created["role"] == key_role and created["key"].startswith(created["prefix"] + "_")
        me = _json(app.test_client().get("/api/v1/me", headers={"X-API-Key": created["key"]}))
        assert me["key"]["role"] == key_role and me["projects"][0]["role"] == key_role
    before = _state(app, owner)
    for key_role in RANKS[len(allowed):]:
        detail = _refused(member.create(key_role), 403)
        assert detail == (f"You are {'an' if role == 'editor' else 'a'} {role} of 'team': a key "
                          f"you create can have at most the {role} role, not {key_role}.")
    assert _state(app, owner) == before


def test_a_members_key_is_audited_under_their_name(app: Flask, owner: Account) -> None:
    member = _member(app, owner, "bob@example.com", "editor")
    created = _json(member.create("editor"), 201)
    assert member.revoke(created["id"]).status_code == 204
    _, events = _state(app, owner)
    mine = [(e["action"], e["actor"], e["details"]["prefix"]) for e in events
            if e["action"].startswith("key.") and e["actor"] == "bob@example.com"]
    assert mine == [("key.revoked", "bob@example.com", created["prefix"]),
                    ("key.created", "bob@example.com", created["prefix"])]


def test_a_member_lists_only_their_own_keys_and_an_admin_lists_all(
    app: Flask, owner: Account
) -> None:
    bob = _member(app, owner, "bob@example.com", "editor")
    vic = _member(app, owner, "vic@example.com", "viewer")
    bobs = _json(bob.create("editor", "bob laptop"), 201)
    vics = _json(vic.create("viewer", "vic laptop"), 201)

    assert [(k["id"], k["created_by"]) for k in bob.listed()] == [(bobs["id"], bob.email)]
    assert [(k["id"], k["created_by"]) for k in vic.listed()] == [(vics["id"], vic.email)]
    assert "key" not in bob.listed()[0]  # never the secret
    everyone, _ = _state(app, owner)
    assert {k["created_by"] for k in everyone} == {owner.email, bob.email, vic.email}
    assert len(everyone) == len(owner.keys) + 2
    ann = Member(app, owner.project, owner.email)  # an admin's session lists all as well
    assert [k["id"] for k in ann.listed()] == [k["id"] for k in everyone]


def test_a_member_revokes_their_own_keys_but_no_one_elses(app: Flask, owner: Account) -> None:
    bob = _member(app, owner, "bob@example.com", "editor")
    vic = _member(app, owner, "vic@example.com", "viewer")
    bobs = _json(bob.create("editor"), 201)
    vics = _json(vic.create("viewer"), 201)
    admins = next(k for k in _state(app, owner)[0] if k["created_by"] == owner.email)
    before = _state(app, owner)

    for key_id in (admins["id"], vics["id"]):
        detail = _refused(bob.revoke(key_id), 403)
        assert detail == (f"Key {key_id} was created by another member; only an admin of 'team' "
                          "can revoke it.")
    assert _refused(vic.revoke(bobs["id"]), 403).startswith(f"Key {bobs['id']} was created by")
    assert _state(app, owner) == before
    assert _refused(bob.revoke(999_999), 404) == "No active key 999999 in this project."

    assert bob.revoke(bobs["id"]).status_code == 204
    fetch = app.test_client().get("/api/v1/me", headers={"X-API-Key": bobs["key"]})
    assert "revoked" in _refused(fetch, 401)
    assert _refused(bob.revoke(bobs["id"]), 404)  # twice: it is gone
    assert bob.listed() == []
    # The admin's powers are unchanged: any member's key, at once.
    web = app.test_client()
    assert web.delete(f"/api/v1/projects/team/keys/{vics['id']}",
                      headers=owner.headers()).status_code == 204
    assert vic.listed() == []


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_a_key_below_admin_manages_no_keys_not_even_its_creators(
    app: Flask, owner: Account, role: str
) -> None:
    member = _member(app, owner, f"{role}@example.com", role)
    own = _json(member.create(role), 201)
    headers = {"X-API-Key": own["key"]}
    web = app.test_client()
    before = _state(app, owner)
    refusals = [
        web.post("/api/v1/projects/team/keys", json={"name": "more", "role": "viewer"},
                 headers=headers),
        web.get("/api/v1/projects/team/keys", headers=headers),
        web.delete(f"/api/v1/projects/team/keys/{own['id']}", headers=headers),
    ]
    for response in refusals:
        detail = _refused(response, 403)
        assert detail.startswith(f"An API key with the {role} role cannot manage keys")
    assert _state(app, owner) == before
    # An admin key keeps its powers: any role, the whole list, any key.
    admin = owner.headers("admin")
    made = _json(web.post("/api/v1/projects/team/keys", json={"name": "ci", "role": "admin"},
                          headers=admin), 201)
    assert own["id"] in [k["id"] for k in _json(web.get("/api/v1/projects/team/keys",
                                                        headers=admin))["keys"]]
    assert web.delete(f"/api/v1/projects/team/keys/{own['id']}", headers=admin).status_code == 204
    assert made["role"] == "admin"


def test_a_demoted_member_cannot_create_above_the_new_role(app: Flask, owner: Account) -> None:
    bob = _member(app, owner, "bob@example.com", "editor")
    earlier = _json(bob.create("editor"), 201)
    _json(app.test_client().put("/api/v1/projects/team/members/bob@example.com",
                                json={"role": "viewer"}, headers=owner.headers()))
    assert "at most the viewer role" in _refused(bob.create("editor"), 403)
    me = _json(app.test_client().get("/api/v1/me", headers={"X-API-Key": earlier["key"]}))
    assert me["key"]["role"] == "viewer"  # the older key is capped at the new role
    assert [k["id"] for k in bob.listed()] == [earlier["id"]]
    assert bob.revoke(earlier["id"]).status_code == 204


def test_non_members_and_other_projects_learn_nothing(app: Flask, owner: Account) -> None:
    make_account(app, "olga@example.com", "other")
    olga = Member(app, "team", "olga@example.com")  # a member of 'other' only
    before = _state(app, owner)
    assert _refused(olga.create("viewer"), 404) == "No project 'team'."
    assert _refused(olga.web.get(olga.keys_path), 404) == "No project 'team'."
    key_id = _state(app, owner)[0][0]["id"]
    assert _refused(olga.revoke(key_id), 404) == "No project 'team'."
    assert _state(app, owner) == before
