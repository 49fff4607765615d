"""A release team for the label-history, settings and promotion tests: one app per test module
and backend, a project with two admins and an editor, and prompts made and moved through the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.app import (
    GREETING,
    Account,
    add_member,
    login,
    make_account,
    running_app,
    signup,
)

API = "/api/v1"
CLEAN = {"commit": "5d41402abc4b2a76b9719d911017c592a1b2c3d4", "branch": "main", "dirty": False,
         "path": "prompts/x.yaml"}


@dataclass
class Team:
    """Project ``demo``: ann (its creator, admin, with a key per role), bob and carl (admins,
    each with an admin key of his own), and the app's test client."""

    app: Flask
    ann: Account
    keys: dict[str, str] = field(default_factory=dict)  # bob's and carl's admin keys
    counter: int = 0

    @property
    def web(self) -> FlaskClient:
        return self.app.test_client()

    def headers(self, who: str) -> dict[str, str]:
        """ann's key of a role (viewer, editor, admin), or bob's/carl's admin key."""
        key = self.keys.get(who) or self.ann.keys[who]
        return {"X-API-Key": key}

    def url(self, path: str = "") -> str:
        return f"{API}/projects/{self.ann.project}{path}"

    def prompt(self, versions: int = 3, git: dict[str, Any] | None = None) -> str:
        """A new prompt with ``versions`` versions (each with ``git``); its slug."""
        self.counter += 1
        slug = f"rel/p{self.counter}"
        for n in range(1, versions + 1):
            self.push(slug, n, git)
        return slug

    def push(self, slug: str, n: int, git: dict[str, Any] | None = None) -> int:
        """Push the n-th text of ``slug``; the version number."""
        body: dict[str, Any] = {"source": GREETING + f"# {n}\n"}
        if git is not None:
            body["git"] = git
        answer = self.web.post(self.url(f"/prompts/{slug}"), json=body,
                               headers=self.headers("editor"))
        assert answer.status_code == 201, answer.get_json()
        return int(answer.get_json()["version"])

    def put_label(self, slug: str, label: str, version: int, who: str = "admin",
                  **extra: Any) -> Any:
        return self.web.put(self.url(f"/prompts/{slug}/-/labels/{label}"),
                            json={"version": version, **extra}, headers=self.headers(who))

    def label_of(self, slug: str, label: str) -> int | None:
        """Where the label points, read by a fetch (None when it does not exist)."""
        answer = self.web.get(self.url(f"/prompts/{slug}"), query_string={"label": label},
                              headers=self.headers("viewer"))
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.get_json()
        return int(answer.get_json()["version"])

    def settings(self, **changes: Any) -> dict[str, Any]:
        answer = self.web.put(self.url("/settings"), json=changes, headers=self.headers("admin"))
        assert answer.status_code == 200, answer.get_json()
        return dict(answer.get_json())

    def events(self, action: str) -> list[dict[str, Any]]:
        answer = self.web.get(self.url("/events"), query_string={"limit": 1000},
                              headers=self.headers("viewer"))
        return [e for e in answer.get_json()["events"] if e["action"] == action]


def second_admin(app: Flask, ann: Account, email: str) -> str:
    """Sign up ``email``, make them an admin of ann's project, and return their own admin key."""
    web = app.test_client()
    signup(web, email)
    add_member(app, ann.project, email, "admin", ann.headers("admin"))
    token = login(web, email)
    answer = web.post(f"{API}/projects/{ann.project}/keys", json={"name": "mine", "role": "admin"},
                      headers={"X-CSRF-Token": token})
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["key"])


@contextmanager
def release_team(url: str) -> Iterator[Team]:
    """The real app on the migrated, empty database at ``url``, with the team, for a block."""
    with running_app(url) as app:
        ann = make_account(app)
        team = Team(app, ann)
        for name in ("bob", "carl"):
            team.keys[name] = second_admin(app, ann, f"{name}@example.com")
        yield team
