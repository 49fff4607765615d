"""A project export carries the releases (SPEC §11): each label's history, the release settings
and the promotion requests; an import restores them, so protection survives a move between
servers, SQLite -> Postgres and Postgres -> SQLite; an export without them still imports."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.server.test_backup import PLAIN_HTTP, _export, _seed
from tests.support.app import Account, make_account, running_app, truncate_postgres

GREETING_URL = "/api/v1/projects/{p}/prompts/support/greeting"
SETTINGS = {"protected_labels": ["gold", "production"], "approvals_required": 1,
            "protected_requires_clean_commit": False, "protected_branches": ["main"]}


@pytest.fixture(scope="module")
def exported(request: pytest.FixtureRequest, sqlite_template: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """A copy of the export of _seed_releases' project from a backend's database, the project
    seeded and exported the first time a test asks: the tests only read the document (and
    change their copy), so one seeding per source backend serves the module."""
    made: dict[str, dict[str, Any]] = {}

    def export(backend: str) -> dict[str, Any]:
        if backend not in made:
            if backend == "postgres":
                url = str(request.getfixturevalue("postgres_url"))
                truncate_postgres(url)
            else:
                path = tmp_path_factory.mktemp("releases-source") / "source.db"
                shutil.copyfile(sqlite_template, path)
                url = f"sqlite:///{path}"
            with running_app(url, **PLAIN_HTTP) as source:
                made[backend] = _export(source, _seed_releases(source))
        return copy.deepcopy(made[backend])
    return export


@pytest.fixture(params=["sqlite->postgres", "postgres->sqlite"])
def pair(request: pytest.FixtureRequest, exported: Callable[[str], dict[str, Any]]
         ) -> Iterator[tuple[dict[str, Any], Flask]]:
    """The export from one database and an empty target app on the other, the two in turn."""
    source, target = str(request.param).split("->")
    document = exported(source)  # first: a Postgres source is seeded in the session's database
    if target == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
        truncate_postgres(url)
    else:
        url = str(request.getfixturevalue("sqlite_url"))
    with running_app(url, **PLAIN_HTTP) as app:
        yield document, app


def _seed_releases(app: Flask) -> Account:
    """_seed, then a label moved twice, strict settings, a pending and a withdrawn request."""
    account = _seed(app)
    web, admin = app.test_client(), account.headers("admin")
    url = GREETING_URL.format(p="demo")
    assert web.put(f"{url}/-/labels/staging", json={"version": 1, "reason": "back"},
                   headers=admin).status_code == 200
    assert web.put("/api/v1/projects/demo/settings", json=SETTINGS,
                   headers=admin).status_code == 200
    pending = web.put(f"{url}/-/labels/production", json={"version": 3}, headers=admin)
    withdrawn = web.put(f"{url}/-/labels/production", json={"version": 1}, headers=admin)
    assert pending.status_code == withdrawn.status_code == 202, withdrawn.get_json()
    number = withdrawn.get_json()["request"]["id"]
    assert web.post(f"/api/v1/projects/demo/promotions/{number}/reject",
                    headers=admin).status_code == 200
    return account


def _without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Ids are the source server's; an import numbers its rows anew, in the same order.
    return [{k: v for k, v in item.items() if k != "id"} for item in items]


def _import(target: Flask, owner: Account, document: dict[str, Any]) -> dict[str, Any]:
    response = target.test_client().post("/api/v1/projects/moved/import", json=document,
                                         headers=owner.headers("admin"))
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json()["imported"])


def test_the_releases_round_trip(pair: tuple[dict[str, Any], Flask]) -> None:
    document, target = pair
    moves = [(m["slug"], m["label"], m["from_version"], m["to_version"])
             for m in document["label_history"]]
    assert moves == [("support/greeting", "staging", None, 3),
                     ("support/greeting", "production", None, 2),
                     ("support/greeting", "staging", 3, 1)]
    assert document["settings"] == SETTINGS
    assert [(p["version"], p["state"]) for p in document["promotions"]] == [
        (3, "pending"), (1, "rejected")]

    owner = make_account(target, "ann@example.com", "moved")
    counts = _import(target, owner, document)
    assert counts["label_history"] == 3 and counts["promotions"] == 2
    restored = _export(target, owner, "moved")
    assert restored["settings"] == document["settings"]
    assert _without_ids(restored["label_history"]) == _without_ids(document["label_history"])
    assert _without_ids(restored["promotions"]) == _without_ids(document["promotions"])

    web, url = target.test_client(), GREETING_URL.format(p="moved")
    history = web.get(f"{url}/-/labels/staging/history", headers=owner.headers("viewer"))
    assert [(m["from_version"], m["to_version"], m["reason"])
            for m in history.get_json()["moves"]] == [(3, 1, "back"), (None, 3, None)]
    # The protection came along: production still needs an approval, blocks an archive, ...
    moved = web.put(f"{url}/-/labels/production", json={"version": 1},
                    headers=owner.headers("admin"))
    assert moved.status_code == 202 and moved.get_json()["request"]["state"] == "pending"
    assert web.delete(url, headers=owner.headers("admin")).get_json()["error"] == (
        "protected_label")
    # ... and the pending request is still its requester's, who may not approve it.
    pending = restored["promotions"][0]
    assert pending["state"] == "pending"
    approve = web.post(f"/api/v1/projects/moved/promotions/{pending['id']}/approve",
                       headers=owner.headers("admin"))
    assert approve.status_code == 403, approve.get_json()


def test_a_pending_request_of_someone_unknown_here_comes_in_stale(
        pair: tuple[dict[str, Any], Flask]) -> None:
    document, target = pair
    document["promotions"][0]["requested_by"] = "zed@example.com (key psk_12345678)"
    owner = make_account(target, "ann@example.com", "moved")
    _import(target, owner, document)
    restored = _export(target, owner, "moved")["promotions"]
    # zed could sign up here and approve their own request: it is not kept pending.
    assert [p["state"] for p in restored] == ["stale", "rejected"]
    assert restored[0]["decided_by"] == f"{owner.email} (key {owner.keys['admin'][:12]})"


def test_an_export_without_releases_still_imports(pair: tuple[dict[str, Any], Flask]
                                                  ) -> None:
    document, target = pair
    older = {k: v for k, v in document.items()
             if k not in {"label_history", "settings", "promotions"}}
    owner = make_account(target, "ann@example.com", "moved")
    counts = _import(target, owner, older)
    assert counts["label_history"] == counts["promotions"] == 0
    restored = _export(target, owner, "moved")
    assert restored["label_history"] == restored["promotions"] == []
    assert restored["settings"]["protected_labels"] == ["production"]  # the defaults
    assert restored["prompts"] == document["prompts"]


def _broken(document: dict[str, Any], how: str) -> dict[str, Any]:
    broken = json.loads(json.dumps(document))
    if how == "move-slug":
        broken["label_history"][0]["slug"] = "not/exported"
    elif how == "move-version":
        broken["label_history"][0]["to_version"] = 99
    elif how == "move-time":
        broken["label_history"][0]["at"] = "yesterday"
    elif how == "settings":
        broken["settings"]["approvals_required"] = 9
    elif how == "settings-unknown":
        broken["settings"]["bogus"] = True
    elif how == "promotion-sha":
        broken["promotions"][0]["sha256"] = "0" * 64
    elif how == "promotion-state":
        broken["promotions"][0]["state"] = "merged"
    elif how == "history-type":
        broken["label_history"] = {"not": "a list"}
    return broken


@pytest.mark.parametrize("how", ["move-slug", "move-version", "move-time", "settings",
                                 "settings-unknown", "promotion-sha", "promotion-state",
                                 "history-type"])
def test_a_bad_release_part_imports_nothing(
        exported: Callable[[str], dict[str, Any]], sqlite_url: str, how: str) -> None:
    document = exported("sqlite")
    with running_app(sqlite_url, **PLAIN_HTTP) as app:
        owner = make_account(app, "bob@example.com", "moved")
        response = app.test_client().post("/api/v1/projects/moved/import",
                                          json=_broken(document, how),
                                          headers=owner.headers("admin"))
        assert response.status_code == 400, response.get_json()
        # The body's shape may be refused before the service reads it: either names the part.
        detail = response.get_json()["detail"]
        assert any(part in detail for part in ("label_history", "settings", "promotions")), detail
        listed = app.test_client().get("/api/v1/projects/moved/prompts",
                                       headers=owner.headers("viewer"))
        assert listed.get_json()["prompts"] == []
        settings = app.test_client().get("/api/v1/projects/moved/settings",
                                         headers=owner.headers("admin")).get_json()
        assert settings["approvals_required"] == 0

