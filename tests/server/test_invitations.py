"""Membership by consent: an admin invites an email, only the invitee makes it a
membership, the answer never tells whether the email has an account, and members may leave."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from tests.support.app import Account, add_member, login, signup, snapshot
from webapi.extensions import db
from webapi.models import Invitation

MEMBERS = "/api/v1/projects/demo/members"


def _json(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _session(app: Flask, email: str) -> tuple[FlaskClient, dict[str, str]]:
    client = app.test_client()
    return client, {"X-CSRF-Token": login(client, email)}


def _invite(app: Flask, account: Account, email: str, role: str = "editor") -> dict[str, Any]:
    body = _json(app.test_client().put(f"{MEMBERS}/{email}", json={"role": role},
                                       headers=account.headers()), 202)
    return dict(body["invitation"])


def _actions(app: Flask, account: Account) -> list[str]:
    events = _json(app.test_client().get("/api/v1/projects/demo/events",
                                         headers=account.headers()))["events"]
    return [e["action"] for e in reversed(events)]


def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(
    app: Flask, account: Account
) -> None:
    web = app.test_client()
    signup(web, "has@example.com")
    before = snapshot(app)
    answers = {email: _invite(app, account, email)
               for email in ("has@example.com", "HAS-NOT@example.com", "nobody@example.org")}
    shapes = {email: {k: type(v) for k, v in inv.items()} for email, inv in answers.items()}
    assert len({tuple(sorted(s.items())) for s in shapes.values()}) == 1
    for email, inv in answers.items():
        assert inv["email"] == email.lower() and inv["role"] == "editor"
        assert inv["invited_by"] == answers["has@example.com"]["invited_by"]
    after = snapshot(app)
    assert after["memberships"] == before["memberships"], "nobody joins without saying yes"
    assert after["invitations"] == before["invitations"] + 3
    listed = _json(web.get(MEMBERS, headers=account.headers()))
    assert [m["email"] for m in listed["members"]] == ["ann@example.com"]
    assert sorted(i["email"] for i in listed["invitations"]) == sorted(
        e.lower() for e in answers)


def test_the_invitee_sees_accepts_and_becomes_a_member(app: Flask, account: Account) -> None:
    signup(app.test_client(), "bob@example.com")
    invitation = _invite(app, account, "bob@example.com", "viewer")
    bob, csrf = _session(app, "bob@example.com")
    me = _json(bob.get("/api/v1/me"))
    assert me["projects"] == []
    assert [(i["id"], i["project"], i["role"]) for i in me["invitations"]] == [
        (invitation["id"], "demo", "viewer")]
    _json(bob.get("/api/v1/projects/demo/prompts"), 404)  # not a member yet
    joined = _json(bob.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=csrf))
    assert joined["project"]["slug"] == "demo" and joined["project"]["role"] == "viewer"
    me = _json(bob.get("/api/v1/me"))
    assert me["invitations"] == [] and [p["slug"] for p in me["projects"]] == ["demo"]
    _json(bob.get("/api/v1/projects/demo/prompts"))
    # Used up: a second accept, or a decline, finds nothing.
    _json(bob.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=csrf), 404)
    _json(bob.post(f"/api/v1/invitations/{invitation['id']}/decline", headers=csrf), 404)
    assert _actions(app, account)[-2:] == ["member.invited", "member.joined"]


def test_declining_leaves_no_membership(app: Flask, account: Account) -> None:
    signup(app.test_client(), "bob@example.com")
    invitation = _invite(app, account, "bob@example.com")
    bob, csrf = _session(app, "bob@example.com")
    assert bob.post(f"/api/v1/invitations/{invitation['id']}/decline",
                    headers=csrf).status_code == 204
    assert _json(bob.get("/api/v1/me"))["invitations"] == []
    _json(bob.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=csrf), 404)
    assert _json(app.test_client().get(MEMBERS, headers=account.headers()))["invitations"] == []
    assert _actions(app, account)[-1] == "invitation.declined"


def test_only_the_invited_user_can_answer(app: Flask, account: Account) -> None:
    for email in ("bob@example.com", "eve@example.com"):
        signup(app.test_client(), email)
    invitation = _invite(app, account, "bob@example.com", "admin")
    eve, csrf = _session(app, "eve@example.com")
    before = snapshot(app)
    for answer in ("accept", "decline"):
        _json(eve.post(f"/api/v1/invitations/{invitation['id']}/{answer}", headers=csrf), 404)
        # Not by a key either (keys act for their project, not for the user), nor without CSRF.
        _json(app.test_client().post(f"/api/v1/invitations/{invitation['id']}/{answer}",
                                     headers=account.headers()), 403)
        bob, _ = _session(app, "bob@example.com")
        _json(bob.post(f"/api/v1/invitations/{invitation['id']}/{answer}"), 403)
    assert _json(eve.get("/api/v1/me"))["invitations"] == []
    assert _json(app.test_client().get("/api/v1/me", headers=account.headers()))[
        "invitations"] == []
    assert snapshot(app) == before


def test_an_email_that_signs_up_later_sees_its_invitation(app: Flask, account: Account) -> None:
    invitation = _invite(app, account, "Later@Example.com")
    signup(app.test_client(), "later@example.com")
    later, csrf = _session(app, "LATER@example.com")
    assert [i["id"] for i in _json(later.get("/api/v1/me"))["invitations"]] == [invitation["id"]]
    _json(later.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=csrf))


def test_inviting_again_replaces_and_an_admin_can_withdraw(app: Flask, account: Account) -> None:
    signup(app.test_client(), "bob@example.com")
    _invite(app, account, "bob@example.com", "viewer")
    again = _invite(app, account, "bob@example.com", "admin")
    web = app.test_client()
    pending = _json(web.get(MEMBERS, headers=account.headers()))["invitations"]
    assert [(i["email"], i["role"]) for i in pending] == [("bob@example.com", "admin")]
    assert web.delete(f"{MEMBERS}/bob@example.com", headers=account.headers()).status_code == 204
    assert _json(web.get(MEMBERS, headers=account.headers()))["invitations"] == []
    bob, csrf = _session(app, "bob@example.com")
    _json(bob.post(f"/api/v1/invitations/{again['id']}/accept", headers=csrf), 404)
    _json(web.delete(f"{MEMBERS}/bob@example.com", headers=account.headers()), 404)
    assert "invitation.withdrawn" in _actions(app, account)


def test_an_expired_invitation_cannot_be_accepted(app: Flask, account: Account) -> None:
    signup(app.test_client(), "bob@example.com")
    invitation = _invite(app, account, "bob@example.com")
    with app.app_context():
        db.session.execute(update(Invitation).values(
            expires_at=dt.datetime(2000, 1, 1)))
        db.session.commit()
        db.session.remove()
    bob, csrf = _session(app, "bob@example.com")
    assert _json(bob.get("/api/v1/me"))["invitations"] == []
    assert _json(app.test_client().get(MEMBERS, headers=account.headers()))["invitations"] == []
    _json(bob.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=csrf), 404)
    _invite(app, account, "bob@example.com")  # a new invitation starts a new 14 days
    assert len(_json(bob.get("/api/v1/me"))["invitations"]) == 1


def test_a_member_may_leave_unless_the_last_admin(app: Flask, account: Account) -> None:
    for email, role in (("vi@example.com", "viewer"), ("ed@example.com", "editor")):
        signup(app.test_client(), email)
        add_member(app, "demo", email, role, account.headers())
    vi, csrf = _session(app, "vi@example.com")
    # Leaving needs the user: the viewer cannot remove anyone else.
    _json(vi.delete(f"{MEMBERS}/ed@example.com", headers=csrf), 403)
    assert vi.delete(f"{MEMBERS}/VI@example.com", headers=csrf).status_code == 204
    _json(vi.get("/api/v1/projects/demo/prompts"), 404)
    assert _actions(app, account)[-1] == "member.left"
    ann, ann_csrf = _session(app, "ann@example.com")
    _json(ann.delete(f"{MEMBERS}/ann@example.com", headers=ann_csrf), 409)
    add_member(app, "demo", "vi@example.com", "admin", account.headers())
    assert ann.delete(f"{MEMBERS}/ann@example.com", headers=ann_csrf).status_code == 204
    # Ann's keys went with her (finding 5): the new admin reads the log.
    vi, csrf = _session(app, "vi@example.com")
    events = _json(vi.get("/api/v1/projects/demo/events"))["events"]
    assert {"member.left", "key.revoked"} >= {e["action"] for e in events[:4]}
    assert any(e["action"] == "member.left" and e["details"]["email"] == "ann@example.com"
               for e in events)
    _json(vi.delete(f"{MEMBERS}/vi@example.com", headers=csrf), 409)  # now the last admin


def test_an_existing_member_gets_a_new_role_at_once(app: Flask, account: Account) -> None:
    signup(app.test_client(), "bob@example.com")
    add_member(app, "demo", "bob@example.com", "viewer", account.headers())
    changed = _json(app.test_client().put(f"{MEMBERS}/BOB@example.com", json={"role": "editor"},
                                          headers=account.headers()))
    assert changed["email"] == "bob@example.com" and changed["role"] == "editor"
    assert "invitation" not in changed
