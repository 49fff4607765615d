"""An approval moves a protected label only where every include still resolves (SPEC §11, §13):
what a request's version includes may be archived, and a partial's label may become included by
name, between the request and its approval. Then the approval is refused (409) and the request
stays pending; on SQLite and Postgres."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.releases import Team


@pytest.fixture(autouse=True)
def one_approval(team: Team) -> None:
    team.settings(protected_labels=["production"], approvals_required=1,
                  protected_requires_clean_commit=False, protected_branches=[])


def push(team: Team, slug: str, template: str) -> None:
    answer = team.web.post(team.url(f"/prompts/{slug}"),
                           json={"source": f"template: '{template}'\n"},
                           headers=team.headers("editor"))
    assert answer.status_code == 201, answer.get_json()


def act(team: Team, request_id: int, verb: str, who: str) -> Any:
    return team.web.post(team.url(f"/promotions/{request_id}/{verb}"), headers=team.headers(who))


def state(team: Team, request_id: int) -> str:
    listed = team.web.get(team.url("/promotions"), query_string={"state": "pending"},
                          headers=team.headers("viewer")).get_json()
    return "pending" if any(r["id"] == request_id for r in listed["promotions"]) else "other"


def test_an_approval_onto_a_version_whose_partial_was_archived_is_refused(team: Team) -> None:
    style, app = "inc/style", "inc/app"
    push(team, style, "Be brief.")
    push(team, app, f"A {{{{> {style} }}}}")  # v1 includes the style
    push(team, app, "A, plain.")  # v2 does not
    team.settings(approvals_required=0)
    assert team.put_label(app, "production", 2).status_code == 200
    team.settings(approvals_required=1)
    opened = team.put_label(app, "production", 1)
    assert opened.status_code == 202, opened.get_json()
    request_id = opened.get_json()["request"]["id"]
    archived = team.web.delete(team.url(f"/prompts/{style}"), headers=team.headers("editor"))
    assert archived.status_code == 204  # nothing live includes it yet: the request is no move

    refused = act(team, request_id, "approve", "bob")
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == "broken_include"
    assert f"restore '{style}'" in refused.get_json()["detail"]
    assert team.label_of(app, "production") == 2 and state(team, request_id) == "pending"

    restored = team.web.post(team.url(f"/prompts/{style}/-/restore"),
                             headers=team.headers("editor"))
    assert restored.status_code == 200
    approved = act(team, request_id, "approve", "bob")
    assert approved.status_code == 200, approved.get_json()
    assert team.label_of(app, "production") == 1


def test_an_approved_removal_of_a_label_others_name_is_refused(team: Team) -> None:
    tone, bot = "inc/tone", "inc/bot"
    push(team, tone, "Warm.")
    team.settings(approvals_required=0)
    assert team.put_label(tone, "production", 1).status_code == 200
    team.settings(approvals_required=1)
    removal = team.web.delete(team.url(f"/prompts/{tone}/-/labels/production"),
                              headers=team.headers("admin"))
    assert removal.status_code == 202, removal.get_json()
    request_id = removal.get_json()["request"]["id"]
    push(team, bot, f"B {{{{> {tone}@production }}}}")  # named after the request was opened

    refused = act(team, request_id, "approve", "bob")
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "included" and body["via"] == {bot: [{"ref": "latest",
                                                                   "version": 1}]}
    assert team.label_of(tone, "production") == 1 and state(team, request_id) == "pending"
    # Opening the same removal again is refused at once.
    again = team.web.delete(team.url(f"/prompts/{tone}/-/labels/production"),
                            headers=team.headers("carl"))
    assert again.status_code == 409 and again.get_json()["error"] == "included"
