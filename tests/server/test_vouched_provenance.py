"""A version pushed before its commit (watch saves first) can meet the clean-commit rule later:
a label move may carry the git provenance of the caller's file with its sha256, recorded for
the version when it is clean and the file holds the version's bytes (SPEC §11). The version
itself never changes; the record outlives the move (later moves, approvals, an export)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.app import make_account
from tests.support.releases import CLEAN, Team

DEFAULTS = {"protected_labels": ["production"], "approvals_required": 0,
            "protected_requires_clean_commit": True, "protected_branches": []}
DIRTY = {**CLEAN, "dirty": True}


@pytest.fixture(autouse=True)
def defaults(team: Team) -> None:
    """Each test starts with the clean-commit rule on (the module shares one database)."""
    team.settings(**DEFAULTS)


def _version(team: Team, slug: str, number: int) -> dict[str, Any]:
    answer = team.web.get(team.url(f"/prompts/{slug}"), query_string={"version": number},
                          headers=team.headers("viewer"))
    assert answer.status_code == 200, answer.get_json()
    return dict(answer.get_json())


def _refused(answer: Any, *words: str) -> None:
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["error"] == "provenance"
    for word in words:
        assert word in answer.get_json()["detail"], answer.get_json()["detail"]


def test_a_clean_file_with_the_versions_bytes_vouches_for_it(team: Team) -> None:
    slug = team.prompt(2, DIRTY)
    sha = _version(team, slug, 2)["sha256"]
    _refused(team.put_label(slug, "production", 2), "v2 was not",
             f"promptsync label {slug} production 2")
    assert team.put_label(slug, "production", 2, git=CLEAN, sha256=sha).status_code == 200
    assert team.label_of(slug, "production") == 2
    # Recorded: production may come back to v2 without it (a rollback, the admin, an approval).
    assert team.put_label(slug, "production", 1, git=CLEAN,
                          sha256=_version(team, slug, 1)["sha256"]).status_code == 200
    assert team.put_label(slug, "production", 2).status_code == 200
    # The version is as it was pushed: its git is still the dirty push's.
    assert _version(team, slug, 2)["git"] == DIRTY


def test_a_dirty_file_another_files_bytes_or_another_branch_vouch_for_nothing(
        team: Team) -> None:
    slug = team.prompt(2, DIRTY)
    sha = _version(team, slug, 2)["sha256"]
    _refused(team.put_label(slug, "production", 2, git=DIRTY, sha256=sha), "v2 was not")
    _refused(team.put_label(slug, "production", 2, git=CLEAN,
                            sha256=_version(team, slug, 1)["sha256"]), "not v2's bytes")
    _refused(team.put_label(slug, "production", 2))  # neither was recorded
    team.settings(protected_branches=["main"])
    feature = {**CLEAN, "branch": "feature/x"}
    _refused(team.put_label(slug, "production", 2, git=feature, sha256=sha),
             "came from feature/x", "Commit it there (merge), then run 'promptsync label")
    assert team.label_of(slug, "production") is None
    assert team.put_label(slug, "production", 2, git=CLEAN, sha256=sha).status_code == 200


def test_what_a_request_was_opened_with_serves_its_approval(team: Team) -> None:
    slug = team.prompt(1, None)  # pushed from outside git
    team.settings(approvals_required=1)
    opened = team.put_label(slug, "production", 1, git=CLEAN,
                            sha256=_version(team, slug, 1)["sha256"])
    assert opened.status_code == 202, opened.get_json()
    approve = team.web.post(team.url(f"/promotions/{opened.get_json()['request']['id']}/approve"),
                            headers=team.headers("bob"))
    assert approve.status_code == 200, approve.get_json()
    assert team.label_of(slug, "production") == 1


@pytest.mark.parametrize(("extra", "field"), [
    ({"git": {**CLEAN, "path": "../x.yaml"}, "sha256": "a" * 64}, "git.path"),
    ({"git": {**CLEAN, "author": "me"}, "sha256": "a" * 64}, "git.author"),
    ({"git": CLEAN, "sha256": "xyz"}, "sha256"),
    ({"git": CLEAN}, "sha256"),
])
def test_a_malformed_report_is_a_400(team: Team, extra: dict[str, Any], field: str) -> None:
    slug = team.prompt(1, DIRTY)
    answer = team.put_label(slug, "production", 1, **extra)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"].startswith(field.split(".")[0]), answer.get_json()
    assert team.label_of(slug, "production") is None


def test_an_export_carries_the_record_and_an_import_restores_it(team: Team) -> None:
    slug, plain = team.prompt(1, DIRTY), team.prompt(1, DIRTY)
    assert team.put_label(slug, "production", 1, git=CLEAN,
                          sha256=_version(team, slug, 1)["sha256"]).status_code == 200
    exported = team.web.get(team.url("/export"), headers=team.headers("admin")).get_json()
    (prompt,) = [p for p in exported["prompts"] if p["slug"] == slug]
    (recorded,) = prompt["versions"][0]["provenance"]
    assert recorded["git"] == CLEAN and recorded["actor"].startswith("ann@example.com")
    (unvouched,) = [p for p in exported["prompts"] if p["slug"] == plain]
    assert "provenance" not in unvouched["versions"][0]  # none: the older form

    name = f"moved-{uuid.uuid4().hex[:6]}"
    owner = make_account(team.app, f"{name}@example.com", name)
    document = {**exported, "prompts": [prompt], "label_history": [], "promotions": []}
    imported = team.web.post(f"/api/v1/projects/{name}/import", json=document,
                             headers=owner.headers("admin"))
    assert imported.status_code == 201, imported.get_json()
    assert team.web.put(f"/api/v1/projects/{name}/settings", json=DEFAULTS,
                        headers=owner.headers("admin")).status_code == 200
    base = f"/api/v1/projects/{name}/prompts/{slug}/-/labels/production"
    # Production came along, so move it off and back: the imported record still vouches.
    assert team.web.delete(base, headers=owner.headers("admin")).status_code == 204
    assert team.web.put(base, json={"version": 1},
                        headers=owner.headers("admin")).status_code == 200
    again = team.web.get(f"/api/v1/projects/{name}/export",
                         headers=owner.headers("admin")).get_json()
    assert again["prompts"][0]["versions"][0]["provenance"] == [recorded]
