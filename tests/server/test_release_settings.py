"""A project's release settings: read and changed by admins only, checked strictly, and obeyed
by every label move (which labels are protected, and the clean-commit and branch rule)."""

from __future__ import annotations

from typing import Any

import pytest

from promptsync.protocol import REFUSAL_CODES
from tests.support.releases import CLEAN, Team

DEFAULTS = {"protected_labels": ["production"], "approvals_required": 0,
            "protected_requires_clean_commit": False, "protected_branches": []}


@pytest.fixture(autouse=True)
def defaults(team: Team) -> None:
    """Each test starts from the default settings (the module shares one database)."""
    team.settings(**DEFAULTS)


def test_defaults_then_a_partial_change_keeps_the_other_fields(team: Team) -> None:
    answer = team.web.get(team.url("/settings"), headers=team.headers("admin"))
    assert answer.status_code == 200 and answer.get_json() == DEFAULTS
    changed = team.settings(approvals_required=1, protected_branches=["main", "main", "release"])
    assert changed == {**DEFAULTS, "approvals_required": 1,
                       "protected_branches": ["main", "release"]}
    assert team.web.get(team.url("/settings"), headers=team.headers("bob")).get_json() == changed
    event = team.events("settings.changed")[0]
    assert event["actor"].startswith("ann@example.com (key psk_")
    assert event["details"]["before"] == DEFAULTS and event["details"]["after"] == changed


@pytest.mark.parametrize("who", ["viewer", "editor"])
def test_only_admins_read_or_change_them(team: Team, who: str) -> None:
    headers = team.headers(who)
    assert team.web.get(team.url("/settings"), headers=headers).status_code == 403
    answer = team.web.put(team.url("/settings"), json={"approvals_required": 1}, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["error"] == "forbidden"
    assert team.web.get(team.url("/settings"), headers=team.headers("admin")).get_json() == DEFAULTS


BAD: list[tuple[dict[str, Any], str]] = [
    ({"approvals_required": -1}, "approvals_required"),
    ({"approvals_required": 6}, "approvals_required"),
    ({"approvals_required": True}, "approvals_required"),
    ({"approvals_required": 1.5}, "approvals_required"),
    ({"approvals_required": "1"}, "approvals_required"),
    ({"protected_requires_clean_commit": 1}, "protected_requires_clean_commit"),
    ({"protected_requires_clean_commit": "yes"}, "protected_requires_clean_commit"),
    ({"protected_labels": "production"}, "protected_labels"),
    ({"protected_labels": ["Production"]}, "protected_labels[0]"),
    ({"protected_labels": ["ok", "-bad"]}, "protected_labels[1]"),
    ({"protected_labels": ["a" * 64]}, "protected_labels[0]"),
    ({"protected_labels": [None]}, "protected_labels[0]"),
    ({"protected_labels": [f"l{i}" for i in range(51)]}, "protected_labels"),
    ({"protected_branches": [""]}, "protected_branches[0]"),
    ({"protected_branches": ["b" * 256]}, "protected_branches[0]"),
    ({"protected_branches": ["tab\there"]}, "protected_branches[0]"),
    ({"protected_branches": {"main": True}}, "protected_branches"),
    ({"approvals": 1}, "approvals"),
]


@pytest.mark.parametrize(("body", "name"), BAD, ids=[name + repr(b)[:30] for b, name in BAD])
def test_bad_settings_are_a_400_naming_the_field(team: Team, body: dict[str, Any],
                                                  name: str) -> None:
    answer = team.web.put(team.url("/settings"), json=body, headers=team.headers("admin"))
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"] == "bad_request" and answer.get_json()["field"] == name
    assert team.web.get(team.url("/settings"), headers=team.headers("admin")).get_json() == DEFAULTS


def test_not_a_json_object_is_a_400(team: Team) -> None:
    for raw in (b"[]", b'{"approvals_required": NaN}', b"{"):
        answer = team.web.put(team.url("/settings"), data=raw, headers={
            **team.headers("admin"), "Content-Type": "application/json"})
        assert answer.status_code == 400, raw


def test_the_protected_labels_are_the_projects_own(team: Team) -> None:
    slug = team.prompt(2)
    # By default production is the admins' and staging anyone's with the editor role.
    assert team.put_label(slug, "production", 1, who="editor").status_code == 403
    assert team.put_label(slug, "staging", 1, who="editor").status_code == 200
    team.settings(protected_labels=["staging", "gate"])
    refused = team.put_label(slug, "staging", 2, who="editor")
    assert refused.status_code == 403 and "staging" in refused.get_json()["detail"]
    delete = team.web.delete(team.url(f"/prompts/{slug}/-/labels/staging"),
                             headers=team.headers("editor"))
    assert delete.status_code == 403
    assert team.put_label(slug, "production", 2, who="editor").status_code == 200
    assert team.label_of(slug, "staging") == 1 and team.label_of(slug, "production") == 2


def test_clean_commit_rule_refuses_a_dirty_version(team: Team) -> None:
    slug = team.prompt(0)
    clean = team.push(slug, 1, CLEAN)
    dirty = team.push(slug, 2, {**CLEAN, "dirty": True})
    unknown = team.push(slug, 3, None)  # pushed from outside git: no provenance at all
    no_commit = team.push(slug, 4, {"branch": "main", "dirty": False})
    team.settings(protected_requires_clean_commit=True)
    for version in (dirty, unknown, no_commit):
        answer = team.put_label(slug, "production", version)
        assert answer.status_code == 409, answer.get_json()
        assert answer.get_json()["error"] == "provenance" and "provenance" in REFUSAL_CODES
        assert f"v{version}" in answer.get_json()["detail"]
    assert team.label_of(slug, "production") is None
    assert team.put_label(slug, "production", clean).status_code == 200
    # Only protected labels: staging may point anywhere.
    assert team.put_label(slug, "staging", dirty, who="editor").status_code == 200
    team.settings(protected_requires_clean_commit=False)
    assert team.put_label(slug, "production", dirty).status_code == 200


def test_branch_rule_refuses_a_version_from_another_branch(team: Team) -> None:
    slug = team.prompt(0)
    feature = team.push(slug, 1, {**CLEAN, "branch": "feature/x"})
    detached = team.push(slug, 2, {**CLEAN, "branch": None})
    main = team.push(slug, 3, CLEAN)
    team.settings(protected_requires_clean_commit=True, protected_branches=["main", "release"])
    for version, shown in ((feature, "feature/x"), (detached, "no branch")):
        answer = team.put_label(slug, "production", version)
        assert answer.status_code == 409 and answer.get_json()["error"] == "provenance"
        assert shown in answer.get_json()["detail"] and "main, release" in answer.get_json()[
            "detail"]
    assert team.put_label(slug, "production", main).status_code == 200
    # Branches alone ask nothing: the rule is the clean-commit switch's.
    team.settings(protected_requires_clean_commit=False)
    assert team.put_label(slug, "production", feature).status_code == 200


def test_clean_commit_rule_applies_when_a_request_is_opened_and_approved(team: Team) -> None:
    slug = team.prompt(0)
    dirty = team.push(slug, 1, {**CLEAN, "dirty": True})
    clean = team.push(slug, 2, CLEAN)
    team.settings(approvals_required=1, protected_requires_clean_commit=True)
    refused = team.put_label(slug, "production", dirty)
    assert refused.status_code == 409 and refused.get_json()["error"] == "provenance"
    listed = team.web.get(team.url("/promotions"), headers=team.headers("viewer")).get_json()
    assert all(p["slug"] != slug for p in listed["promotions"])  # no request was opened
    opened = team.put_label(slug, "production", clean)
    assert opened.status_code == 202
    # The rule tightened after the request was opened: the approval obeys it too.
    team.settings(protected_branches=["release"])
    request_id = opened.get_json()["request"]["id"]
    approve = team.web.post(team.url(f"/promotions/{request_id}/approve"),
                            headers=team.headers("bob"))
    assert approve.status_code == 409 and approve.get_json()["error"] == "provenance"
    assert team.label_of(slug, "production") is None
    team.settings(protected_branches=[])
    approve = team.web.post(team.url(f"/promotions/{request_id}/approve"),
                            headers=team.headers("bob"))
    assert approve.status_code == 200 and approve.get_json()["request"]["state"] == "approved"
    assert team.label_of(slug, "production") == clean
