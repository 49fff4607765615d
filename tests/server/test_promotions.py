"""Promotion requests: with approvals required, a protected label moves only when another admin
approves, exactly to the sha256 the request named, and only from where it was when asked."""

from __future__ import annotations

from typing import Any

import pytest

from promptsync.protocol import REFUSAL_CODES
from tests.support.app import login
from tests.support.racing import race
from tests.support.releases import Team


@pytest.fixture(autouse=True)
def one_approval(team: Team) -> None:
    """Each test starts with production protected and one approval required."""
    team.settings(protected_labels=["production"], approvals_required=1,
                  protected_requires_clean_commit=False, protected_branches=[])


def act(team: Team, request_id: int, verb: str, who: str) -> Any:
    return team.web.post(team.url(f"/promotions/{request_id}/{verb}"), headers=team.headers(who))


def fetch_sha(team: Team, slug: str, label: str) -> str:
    answer = team.web.get(team.url(f"/prompts/{slug}"), query_string={"label": label},
                          headers=team.headers("viewer"))
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["sha256"])


def sha_of(team: Team, slug: str, version: int) -> str:
    answer = team.web.get(team.url(f"/prompts/{slug}"), query_string={"version": version},
                          headers=team.headers("viewer"))
    return str(answer.get_json()["sha256"])


def test_a_protected_move_opens_a_request_that_another_admin_approves(team: Team) -> None:
    slug = team.prompt(3)
    team.settings(approvals_required=0)
    assert team.put_label(slug, "production", 1).status_code == 200
    team.settings(approvals_required=1)
    opened = team.put_label(slug, "production", 3)
    assert opened.status_code == 202, opened.get_json()
    request = opened.get_json()["request"]
    assert {k: request[k] for k in ("slug", "label", "version", "sha256", "state",
                                    "from_version")} == {
        "slug": slug, "label": "production", "version": 3, "sha256": sha_of(team, slug, 3),
        "state": "pending", "from_version": 1}
    assert request["requested_by"].startswith("ann@example.com (key psk_")
    assert team.label_of(slug, "production") == 1  # nothing moved yet
    # The requester cannot approve: with the same key, another of their keys, or their session.
    assert act(team, request["id"], "approve", "admin").status_code == 403
    assert act(team, request["id"], "approve", "editor").status_code == 403  # and not an editor
    web = team.app.test_client()
    token = login(web, "ann@example.com")
    own = web.post(team.url(f"/promotions/{request['id']}/approve"),
                   headers={"X-CSRF-Token": token})
    assert own.status_code == 403 and "another admin" in own.get_json()["detail"]
    assert team.label_of(slug, "production") == 1
    approved = act(team, request["id"], "approve", "bob")
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()["request"]
    assert body["state"] == "approved" and body["decided_by"].startswith("bob@example.com")
    assert [a["by"][:15] for a in body["approvals"]] == ["bob@example.com"]
    assert team.label_of(slug, "production") == 3
    again = act(team, request["id"], "approve", "carl")
    assert again.status_code == 409 and again.get_json()["state"] == "approved"
    # Every step is an event, and the move says which request made it.
    requested = [e for e in team.events("promotion.requested") if e["slug"] == slug]
    assert requested[0]["details"]["id"] == request["id"]
    assert [e["details"]["id"] for e in team.events("promotion.approved")
            if e["slug"] == slug] == [request["id"]]
    moved = [e for e in team.events("label.moved") if e["slug"] == slug][0]
    assert moved["details"]["promotion"] == request["id"] and moved["details"]["version"] == 3
    assert moved["actor"].startswith("bob@example.com")


def test_approval_after_the_label_moved_is_409_and_the_request_goes_stale(team: Team) -> None:
    slug = team.prompt(3)
    first = team.put_label(slug, "production", 2).get_json()["request"]
    second = team.put_label(slug, "production", 3).get_json()["request"]
    assert first["from_version"] is None and second["from_version"] is None
    assert act(team, first["id"], "approve", "bob").status_code == 200
    stale = act(team, second["id"], "approve", "carl")
    assert stale.status_code == 409, stale.get_json()
    assert stale.get_json()["error"] == "stale" and "stale" in REFUSAL_CODES
    assert stale.get_json()["request"]["state"] == "stale"
    assert team.label_of(slug, "production") == 2
    listed = team.web.get(team.url("/promotions"), query_string={"state": "stale"},
                          headers=team.headers("viewer")).get_json()["promotions"]
    assert second["id"] in [p["id"] for p in listed]
    assert [e["details"]["id"] for e in team.events("promotion.stale")
            if e["slug"] == slug] == [second["id"]]
    assert act(team, second["id"], "approve", "bob").status_code == 409


def test_two_approvals_at_once_decide_once(team: Team) -> None:
    slug = team.prompt(2)
    for _ in range(2):  # a real race on separate connections: one approval moves, one is late
        request = team.put_label(slug, "production", 2 if _ == 0 else 1).get_json()["request"]

        def approve(who: str, request_id: int = request["id"]) -> Any:
            return team.app.test_client().post(team.url(f"/promotions/{request_id}/approve"),
                                               headers=team.headers(who))

        answers = race(lambda: approve("bob"), lambda: approve("carl"), timeout=30)
        assert sorted(a.status_code for a in answers) == [200, 409]
        late = next(a for a in answers if a.status_code == 409).get_json()
        assert late["error"] == "conflict" and late["state"] == "approved"
    assert team.label_of(slug, "production") == 1
    moves = team.web.get(team.url(f"/prompts/{slug}/-/labels/production/history"),
                         headers=team.headers("viewer")).get_json()["moves"]
    assert [(m["from_version"], m["to_version"]) for m in moves] == [(2, 1), (None, 2)]


def test_a_request_for_a_version_then_superseded_moves_exactly_that_sha(team: Team) -> None:
    slug = team.prompt(2)
    request = team.put_label(slug, "production", 2).get_json()["request"]
    named = request["sha256"]
    for n in (3, 4):  # newer versions arrive while the request waits
        team.push(slug, n)
    assert act(team, request["id"], "approve", "bob").status_code == 200
    assert team.label_of(slug, "production") == 2
    assert fetch_sha(team, slug, "production") == named == sha_of(team, slug, 2)
    assert named != sha_of(team, slug, 4)


def test_reject_leaves_the_label_and_ends_the_request(team: Team) -> None:
    slug = team.prompt(2)
    request = team.put_label(slug, "production", 2).get_json()["request"]
    assert act(team, request["id"], "reject", "editor").status_code == 403
    rejected = act(team, request["id"], "reject", "bob")
    assert rejected.status_code == 200 and rejected.get_json()["request"]["state"] == "rejected"
    assert team.label_of(slug, "production") is None
    assert act(team, request["id"], "approve", "carl").status_code == 409
    assert act(team, request["id"], "reject", "carl").status_code == 409
    # Its requester may withdraw a request of their own.
    withdrawn = team.put_label(slug, "production", 1).get_json()["request"]
    assert act(team, withdrawn["id"], "reject", "admin").status_code == 200
    assert [e["details"]["id"] for e in team.events("promotion.rejected")
            if e["slug"] == slug] == [withdrawn["id"], request["id"]]


def test_editors_cannot_open_requests_and_other_labels_move_at_once(team: Team) -> None:
    slug = team.prompt(2)
    assert team.put_label(slug, "production", 2, who="editor").status_code == 403
    staging = team.put_label(slug, "staging", 2, who="editor")
    assert staging.status_code == 200 and team.label_of(slug, "staging") == 2
    listed = team.web.get(team.url("/promotions"), headers=team.headers("viewer")).get_json()
    assert all(p["slug"] != slug for p in listed["promotions"])


def test_asking_again_answers_the_same_pending_request(team: Team) -> None:
    slug = team.prompt(2)
    first = team.put_label(slug, "production", 2).get_json()["request"]
    again = team.put_label(slug, "production", 2)
    assert again.status_code == 202 and again.get_json()["request"]["id"] == first["id"]
    other = team.put_label(slug, "production", 2, who="bob").get_json()["request"]
    assert other["id"] != first["id"]  # bob's own request, which ann may approve
    assert act(team, other["id"], "approve", "admin").status_code == 200
    assert team.label_of(slug, "production") == 2


def test_removing_a_protected_label_is_a_request_too(team: Team) -> None:
    slug = team.prompt(2)
    team.settings(approvals_required=0)
    assert team.put_label(slug, "production", 2).status_code == 200
    team.settings(approvals_required=1)
    url = team.url(f"/prompts/{slug}/-/labels/production")
    opened = team.web.delete(url, headers=team.headers("admin"))
    assert opened.status_code == 202, opened.get_data()
    request = opened.get_json()["request"]
    assert (request["version"], request["sha256"], request["from_version"]) == (None, None, 2)
    assert team.label_of(slug, "production") == 2
    assert act(team, request["id"], "approve", "carl").status_code == 200
    assert team.label_of(slug, "production") is None


def test_two_approvals_need_two_other_admins(team: Team) -> None:
    slug = team.prompt(2)
    team.settings(approvals_required=2)
    request = team.put_label(slug, "production", 2).get_json()["request"]
    assert request["approvals_required"] == 2
    first = act(team, request["id"], "approve", "bob")
    assert first.status_code == 200 and first.get_json()["request"]["state"] == "pending"
    assert team.label_of(slug, "production") is None
    assert act(team, request["id"], "approve", "bob").status_code == 409  # not twice
    second = act(team, request["id"], "approve", "carl")
    assert second.get_json()["request"]["state"] == "approved"
    assert team.label_of(slug, "production") == 2


def test_listing_filters_by_state_and_pages(team: Team) -> None:
    slug = team.prompt(3)
    ids = [team.put_label(slug, "production", n).get_json()["request"]["id"] for n in (1, 2, 3)]
    act(team, ids[0], "reject", "bob")
    viewer = team.headers("viewer")
    pending = team.web.get(team.url("/promotions"), query_string={"state": "pending"},
                           headers=viewer).get_json()["promotions"]
    mine = [p["id"] for p in pending if p["slug"] == slug]
    assert mine == [ids[2], ids[1]]  # newest first
    page = team.web.get(team.url("/promotions"), query_string={"limit": 1}, headers=viewer)
    assert len(page.get_json()["promotions"]) == 1 and page.get_json()["next"]
    rest = team.web.get(team.url("/promotions"), headers=viewer, query_string={
        "limit": 1000, "cursor": page.get_json()["next"]}).get_json()["promotions"]
    assert page.get_json()["promotions"][0]["id"] not in [p["id"] for p in rest]
    assert team.web.get(team.url("/promotions"), query_string={"state": "open"},
                        headers=viewer).status_code == 400


@pytest.mark.parametrize("request_id", ["999999", str(2**31), str(2**64)])
def test_unknown_requests_are_404(team: Team, request_id: str) -> None:
    for verb in ("approve", "reject"):
        answer = team.web.post(team.url(f"/promotions/{request_id}/{verb}"),
                               headers=team.headers("bob"))
        assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"
