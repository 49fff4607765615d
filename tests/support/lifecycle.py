"""A prompt playground for the lifecycle tests: one app and account per module and backend, each
test taking prompts of its own, and short ways to push, label, list and read events."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.app import GREETING, Account, make_account, running_app

API = "/api/v1/projects/demo/prompts"


@dataclass
class Lab:
    """One app and account per backend for the whole module; each test takes its own slugs."""

    app: Flask
    account: Account
    counter: Iterator[int] = field(default_factory=itertools.count)

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def slug(self) -> str:
        return f"life/p{next(self.counter)}"

    def push(self, slug: str, source: str = GREETING, role: str = "editor", **body: Any) -> Any:
        response = self.client().post(f"{API}/{slug}", json={"source": source, **body},
                                      headers=self.account.headers(role))
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()

    def prompt(self, versions: int = 2, **labels: int) -> str:
        """A new prompt at versions 1..versions with the labels given (set by the admin)."""
        slug = self.slug()
        for n in range(1, versions + 1):
            self.push(slug, GREETING + f"# {slug} {n}\n")
        for label, number in labels.items():
            moved = self.client().put(f"{API}/{slug}/-/labels/{label}", json={"version": number},
                                      headers=self.account.headers("admin"))
            assert moved.status_code == 200, moved.get_json()
        return slug

    def events(self, slug: str) -> list[tuple[str, dict[str, Any]]]:
        """The prompt's events, oldest first, as (action, details)."""
        page = self.client().get("/api/v1/projects/demo/events?limit=1000",
                                 headers=self.account.headers("viewer")).get_json()
        return [(e["action"], e["details"]) for e in reversed(page["events"])
                if e["slug"] == slug]

    def manifest(self, query: str = "") -> dict[str, Any]:
        page = self.client().get(f"{API}?limit=1000{query}",
                                 headers=self.account.headers("viewer")).get_json()
        return {p["slug"]: p for p in page["prompts"]}


@contextmanager
def lifecycle_lab(url: str) -> Iterator[Lab]:
    """A Lab on the migrated database at url, disposed of afterwards."""
    with running_app(url) as app:
        yield Lab(app, make_account(app))
