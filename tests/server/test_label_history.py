"""Label history: every move recorded (created, moved, removed, by whom and why), read newest
first in pages; rollback as a compare-and-swap against a concurrent move; and the upgrade of a
database that already has labels."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from promptsync.client.api import ApiClient
from promptsync.client.releases import rollback_label
from promptsync.errors import ApiError, PromptSyncError
from tests.support.app import IN_PROCESS, make_app
from tests.support.racing import race
from tests.support.releases import Team, release_team
from webapi.extensions import db


def history(team: Team, slug: str, label: str, **query: Any) -> Any:
    return team.web.get(team.url(f"/prompts/{slug}/-/labels/{label}/history"),
                        query_string=query, headers=team.headers("viewer"))


def steps(team: Team, slug: str, label: str = "staging") -> list[tuple[Any, Any]]:
    moves = history(team, slug, label).get_json()["moves"]
    return [(m["from_version"], m["to_version"]) for m in moves]


def test_every_move_is_recorded_newest_first(team: Team) -> None:
    slug = team.prompt(3)
    assert team.put_label(slug, "staging", 1, who="editor").status_code == 200
    assert team.put_label(slug, "staging", 3, who="editor", reason="ship it").status_code == 200
    assert team.put_label(slug, "staging", 3, who="editor").status_code == 200  # no move
    removed = team.web.delete(team.url(f"/prompts/{slug}/-/labels/staging"),
                              headers=team.headers("admin"))
    assert removed.status_code == 204
    answer = history(team, slug, "staging")
    assert answer.status_code == 200
    moves = answer.get_json()["moves"]
    assert [(m["from_version"], m["to_version"], m["reason"]) for m in moves] == [
        (3, None, None), (1, 3, "ship it"), (None, 1, None)]
    assert moves[0]["actor"].startswith("ann@example.com (key psk_")
    assert moves[0]["id"] > moves[1]["id"] > moves[2]["id"]
    assert all(m["at"].endswith("Z") for m in moves) and answer.get_json()["next"] is None
    # The key's shorthand answers the same.
    short = team.web.get(f"/api/v1/prompts/{slug}/-/labels/staging/history",
                         headers=team.headers("viewer"))
    assert short.status_code == 200 and short.get_json()["moves"] == moves


def test_an_archive_removes_labels_into_the_history(team: Team) -> None:
    slug = team.prompt(2)
    team.put_label(slug, "staging", 2, who="editor")
    archived = team.web.delete(team.url(f"/prompts/{slug}"), headers=team.headers("editor"))
    assert archived.status_code == 204
    moves = history(team, slug, "staging").get_json()["moves"]
    assert [(m["from_version"], m["to_version"], m["reason"]) for m in moves] == [
        (2, None, "archived"), (None, 2, None)]


def test_history_pages_with_a_cursor(team: Team) -> None:
    slug = team.prompt(3)
    for version in (1, 2, 3, 1, 2):
        team.put_label(slug, "staging", version, who="editor")
    first = history(team, slug, "staging", limit=2).get_json()
    second = history(team, slug, "staging", limit=2, cursor=first["next"]).get_json()
    third = history(team, slug, "staging", limit=2, cursor=second["next"]).get_json()
    ids = [m["id"] for page in (first, second, third) for m in page["moves"]]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True) and third["next"] is None
    assert history(team, slug, "staging", cursor="!!").status_code == 400


def test_history_of_unknown_things(team: Team) -> None:
    slug = team.prompt(1)
    never = history(team, slug, "canary")
    assert never.status_code == 200 and never.get_json() == {"moves": [], "next": None}
    assert history(team, "rel/nope", "staging").status_code == 404
    assert history(team, slug, "Bad!").status_code == 400
    moved = team.web.put(team.url(f"/prompts/{slug}/-/labels/staging/history"),
                         json={"version": 1}, headers=team.headers("admin"))
    assert moved.status_code == 405


def test_a_reason_is_one_line_of_text(team: Team) -> None:
    slug = team.prompt(1)
    for reason in ("two\nlines", 7, "x" * 301):
        answer = team.put_label(slug, "staging", 1, who="editor", reason=reason)
        assert answer.status_code == 400 and answer.get_json()["field"] == "reason", reason
    assert steps(team, slug) == []


def _api(team: Team, transport: httpx.BaseTransport | None = None) -> ApiClient:
    return ApiClient(IN_PROCESS, team.ann.keys["editor"],
                     transport=transport or httpx.WSGITransport(app=team.app))


def test_rollback_points_the_label_back_and_says_when_it_cannot(team: Team) -> None:
    slug = team.prompt(3)
    api = _api(team)
    project = team.ann.project
    with pytest.raises(PromptSyncError, match="no recorded moves"):
        rollback_label(api, project, slug, "staging")
    team.put_label(slug, "staging", 1, who="editor")
    with pytest.raises(PromptSyncError, match="pointed at nothing"):
        rollback_label(api, project, slug, "staging")
    team.put_label(slug, "staging", 3, who="editor")
    moved = rollback_label(api, project, slug, "staging")
    assert (moved["version"], moved["previous"]) == (1, 3)
    assert steps(team, slug)[0] == (3, 1)
    assert history(team, slug, "staging").get_json()["moves"][0]["reason"].startswith(
        "rollback of move #")
    # A rollback of a removal puts the label back, if nobody set it again meanwhile.
    team.web.delete(team.url(f"/prompts/{slug}/-/labels/staging"), headers=team.headers("admin"))
    assert rollback_label(api, project, slug, "staging")["version"] == 1
    api.close()


class MoveFirst(httpx.BaseTransport):
    """The app in-process; right before the rollback's PUT reaches it, another client's move
    does (the deterministic interleaving of a race the rollback must lose)."""

    def __init__(self, team: Team, slug: str, version: int) -> None:
        self.inner = httpx.WSGITransport(app=team.app)
        self.team, self.slug, self.version = team, slug, version

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            assert self.team.put_label(self.slug, "staging", self.version,
                                       who="bob").status_code == 200
        return self.inner.handle_request(request)


def test_rollback_loses_to_a_move_made_after_it_read_the_history(team: Team) -> None:
    slug = team.prompt(3)
    team.put_label(slug, "staging", 1, who="editor")
    team.put_label(slug, "staging", 2, who="editor")
    api = _api(team, MoveFirst(team, slug, 3))
    with pytest.raises(ApiError) as refused:
        rollback_label(api, team.ann.project, slug, "staging")
    api.close()
    assert refused.value.status == 409 and refused.value.body["current_version"] == 3
    assert "moved to v3 after the move this rollback read" in refused.value.detail
    assert team.label_of(slug, "staging") == 3  # the newer move stands
    assert steps(team, slug) == [(2, 3), (1, 2), (None, 1)]


def test_two_compare_and_swaps_at_once_exactly_one_wins(team: Team) -> None:
    slug = team.prompt(3)
    team.put_label(slug, "staging", 1, who="editor")
    for _ in range(3):  # a real race, on separate connections: one wins, one gets 409
        current = team.label_of(slug, "staging")

        def move(target: int, expected: int | None = current) -> int:
            return team.app.test_client().put(
                team.url(f"/prompts/{slug}/-/labels/staging"),
                json={"version": target, "expected_version": expected},
                headers=team.headers("editor")).status_code

        targets = [v for v in (1, 2, 3) if v != current]
        statuses = race(*(lambda t=t: move(t) for t in targets), timeout=30)
        assert sorted(statuses) == [200, 409]
        assert team.label_of(slug, "staging") in targets
        assert steps(team, slug)[0][0] == current  # one move recorded, from where it was
    assert len(steps(team, slug)) == 4


# --- upgrading a database that has labels ----------------------------------------------------

BEFORE_RELEASES = "0003"
SEED = [
    "INSERT INTO users (id, email, password_hash, session_generation, created_at) VALUES "
    "(1, 'old@example.com', '$2b$04$" + "x" * 53 + "', 0, '2026-01-01 00:00:00')",
    "INSERT INTO projects (id, slug, name, created_at) VALUES (1, 'legacy', 'Legacy', "
    "'2026-01-01 00:00:00')",
    "INSERT INTO prompts (id, project_id, slug, latest_version, created_at, updated_at) VALUES "
    "(1, 1, 'support/old', 2, '2026-01-01 00:00:00', '2026-01-02 00:00:00')",
    "INSERT INTO labels (id, prompt_id, name, version, updated_at) VALUES "
    "(1, 1, 'production', 2, '2026-01-03 00:00:00'), (2, 1, 'staging', 1, '2026-01-04 00:00:00')",
]


def test_an_upgrade_starts_the_history_where_the_labels_are(empty_url: str) -> None:
    old = make_app(empty_url)
    with old.app_context():
        upgrade(revision=BEFORE_RELEASES)
        for statement in SEED:
            db.session.execute(text(statement))
        if empty_url.startswith("postgresql"):  # explicit ids: move the sequences past them
            for table in ("users", "projects", "prompts", "labels"):
                db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 2)"))
        db.session.commit()
        upgrade()
        rows = db.session.execute(text(
            "SELECT label, from_version, to_version, actor, created_at FROM label_moves "
            "ORDER BY label")).all()
        assert [tuple(r)[:4] for r in rows] == [("production", None, 2, "promptsync"),
                                                ("staging", None, 1, "promptsync")]
        assert str(rows[0][4]).startswith("2026-01-03")
        assert db.session.execute(text("SELECT count(*) FROM promotions")).scalar() == 0
        db.session.remove()
        db.engine.dispose()
    # The upgraded schema works: a new team moves labels, with history, on a fresh project.
    with release_team(empty_url) as team:
        slug = team.prompt(2)
        team.put_label(slug, "staging", 2, who="editor")
        assert steps(team, slug) == [(None, 2)]
        assert team.settings(approvals_required=1)["approvals_required"] == 1
        assert team.put_label(slug, "production", 1).status_code == 202
