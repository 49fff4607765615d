"""A server with sign-up closed (PROMPTSYNC_SIGNUP_OPEN=false) stays closed to strangers, but an
email with a pending invitation may make its account and accept it: through the API and the
admin's sign-up page alike."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from sqlalchemy import update

from tests.support.admin_team import csrf_of, html
from tests.support.app import Account, snapshot
from webapi.extensions import db
from webapi.models import Invitation

PASSWORD = "correct horse battery"
CLOSED = ("Sign-up is closed on this server except for invited emails; ask an admin to invite "
          "yours.")


@pytest.fixture
def closed(app: Flask, account: Account, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with sign-up closed, once the account (its admin) is made."""
    monkeypatch.setitem(app.config, "SIGNUP_OPEN", False)
    return app


def _invite(app: Flask, account: Account, email: str) -> None:
    answer = app.test_client().put(f"/api/v1/projects/demo/members/{email}",
                                   json={"role": "editor"}, headers=account.headers())
    assert answer.status_code == 202, answer.get_json()


def _api_signup(app: Flask, email: str) -> tuple[int, dict[str, object]]:
    answer = app.test_client().post("/api/v1/auth/signup",
                                    json={"email": email, "password": PASSWORD})
    return answer.status_code, answer.get_json()


def test_the_api_lets_only_an_invited_email_sign_up(closed: Flask, account: Account) -> None:
    before = snapshot(closed)["users"]
    status, body = _api_signup(closed, "stranger@example.com")
    assert (status, body["error"], body["detail"]) == (403, "forbidden", CLOSED)
    _invite(closed, account, "Bob@Example.com")
    status, body = _api_signup(closed, "  BOB@example.com")  # normalised, as the invitation
    assert status == 201, body
    assert snapshot(closed)["users"] == before + 1
    # Signed up, bob accepts and is a member; then, no invitation pending, nobody else gets in.
    web = closed.test_client()
    csrf = web.post("/api/v1/auth/login", json={"email": "bob@example.com",
                                                "password": PASSWORD}).get_json()["csrf_token"]
    (invitation,) = web.get("/api/v1/me").get_json()["invitations"]
    accepted = web.post(f"/api/v1/invitations/{invitation['id']}/accept",
                        headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200, accepted.get_json()
    assert _api_signup(closed, "stranger@example.com")[0] == 403


def test_an_expired_or_withdrawn_invitation_opens_nothing(closed: Flask, account: Account) -> None:
    _invite(closed, account, "old@example.com")
    with closed.app_context():
        db.session.execute(update(Invitation).values(expires_at=dt.datetime(2000, 1, 1)))
        db.session.commit()
        db.session.remove()
    assert _api_signup(closed, "old@example.com")[0] == 403
    _invite(closed, account, "gone@example.com")
    withdrawn = closed.test_client().delete("/api/v1/projects/demo/members/gone@example.com",
                                            headers=account.headers())
    assert withdrawn.status_code == 204
    assert _api_signup(closed, "gone@example.com")[0] == 403


def _admin_signup(app: Flask, email: str) -> tuple[object, str]:
    web = app.test_client()
    page = html(web.get("/admin/signup"))
    answer = web.post("/admin/signup", data={"csrf_token": csrf_of(page), "email": email,
                                             "password": PASSWORD, "confirm": PASSWORD})
    return web, answer


def test_the_admin_sign_up_page_says_who_may_and_lets_the_invitee_accept(
        closed: Flask, account: Account) -> None:
    page = html(closed.test_client().get("/admin/signup"))
    assert "Sign-up is closed on this server except for invited emails" in page
    assert 'name="password"' in page  # the form is there, for an invitee
    before = snapshot(closed)["users"]
    _, refused = _admin_signup(closed, "stranger@example.com")
    assert refused.status_code == 403 and CLOSED in html(refused)
    assert 'value="stranger@example.com"' in html(refused)  # what was typed is kept
    assert snapshot(closed)["users"] == before
    _invite(closed, account, "eve@example.com")
    web, made = _admin_signup(closed, "eve@example.com")
    assert made.status_code == 302 and made.location == "/admin/"
    projects = html(web.get("/admin/"))
    assert "Accept your invitation below" in projects
    accept = re.search(r'action="(/admin/invitations/\d+/accept)"', projects)
    assert accept, projects
    joined = web.post(accept[1], data={"csrf_token": csrf_of(projects)})
    assert joined.status_code == 302
    members = closed.test_client().get("/api/v1/projects/demo/members",
                                       headers=account.headers()).get_json()["members"]
    assert "eve@example.com" in [m["email"] for m in members]


def test_an_open_server_still_lets_anyone_sign_up(app: Flask) -> None:
    assert app.config["SIGNUP_OPEN"]
    assert _api_signup(app, "anyone@example.com")[0] == 201
