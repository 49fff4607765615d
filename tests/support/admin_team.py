"""What the admin tests share: a project with an admin, an editor and a viewer signed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import GREETING, Account, add_member, login, make_account, signup

SLUG = "support/greeting"
PAGE = f"/admin/p/demo/prompts/{SLUG}"


@dataclass
class User:
    """A logged-in browser-like client and its CSRF token."""

    client: FlaskClient
    csrf: str

    def post(self, path: str, data: dict[str, str] | None = None,
             csrf: bool = True) -> TestResponse:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        return self.client.post(path, data=form)


@dataclass
class Team:
    """Project 'demo' with a prompt at v1, and an admin, an editor and a viewer signed in."""

    app: Flask
    account: Account
    admin: User
    editor: User
    viewer: User

    def api(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        client = self.app.test_client()
        return client.open(f"/api/v1{path}", method=method, headers=self.account.headers(),
                           **kwargs)

    def versions(self, slug: str = SLUG) -> list[int]:
        response = self.api("GET", f"/projects/demo/prompts/{slug}/-/versions")
        if response.status_code == 404:
            return []
        return [v["version"] for v in response.get_json()["versions"]]

    def labels(self) -> dict[str, int]:
        body = self.api("GET", "/projects/demo/prompts").get_json()
        return body["prompts"][0]["labels"]

    def events(self) -> list[dict[str, Any]]:
        return self.api("GET", "/projects/demo/events?limit=1000").get_json()["events"]

    def slugs(self) -> list[str]:
        return [p["slug"] for p in self.api("GET", "/projects/demo/prompts").get_json()["prompts"]]


def user(app: Flask, email: str) -> User:
    client = app.test_client()
    return User(client, login(client, email))


def team_members(app: Flask) -> Account:
    """What make_team puts in the database: the account, its editor and viewer members, and the
    prompt at v1; returns the account (the admin)."""
    account = make_account(app)
    web = app.test_client()
    for email, role in (("ed@example.com", "editor"), ("vi@example.com", "viewer")):
        signup(web, email)
        add_member(app, "demo", email, role, account.headers())
    response = web.post(f"/api/v1/projects/demo/prompts/{SLUG}", json={"source": GREETING},
                        headers=account.headers())
    assert response.status_code == 201, response.get_json()
    return account


def make_team(app: Flask, account: Account | None = None) -> Team:
    """A Team on ``app`` (the `team` fixture of tests/server/admin/conftest.py): its members
    (``account`` when team_members made them already), each signed in."""
    account = account or team_members(app)
    return Team(app, account, user(app, account.email), user(app, "ed@example.com"),
                user(app, "vi@example.com"))


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "page has no CSRF field"
    return match.group(1)
