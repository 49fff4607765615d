"""The admin's Promotions page: release settings, a protected move from the prompt page opening a
request, its diff, and approval by another admin (never the requester), all by forms with CSRF."""

from __future__ import annotations

from tests.support.admin_team import PAGE, SLUG, Team, html
from tests.support.app import GREETING, add_member

PROMOTIONS = "/admin/p/demo/promotions"


def test_settings_form_is_the_admins_and_checked(team: Team) -> None:
    for member in (team.editor, team.viewer):
        assert member.client.get(PROMOTIONS).status_code == 403
        assert member.post("/admin/p/demo/settings", {"approvals_required": "1"}).status_code == 403
    page = html(team.admin.client.get(PROMOTIONS))
    assert "No request waits for approval" in page and 'value="production"' in page
    assert team.admin.post("/admin/p/demo/settings", {
        "protected_labels": "production", "approvals_required": "1"}, csrf=False
    ).status_code == 403
    refused = team.admin.post("/admin/p/demo/settings", {
        "protected_labels": "production, Bad!", "approvals_required": "1"})
    assert refused.status_code == 302
    assert "protected_labels[1]" in html(team.admin.client.get(PROMOTIONS))
    saved = team.admin.post("/admin/p/demo/settings", {
        "protected_labels": "production, canary", "approvals_required": "1",
        "clean_commit": "on", "protected_branches": "main release"})
    assert saved.status_code == 302 and saved.location.endswith("/promotions#settings")
    settings = team.api("GET", "/projects/demo/settings").get_json()
    assert settings == {"protected_labels": ["canary", "production"], "approvals_required": 1,
                        "protected_requires_clean_commit": True,
                        "protected_branches": ["main", "release"]}
    assert "Saved the release settings" in html(team.admin.client.get(PROMOTIONS))
    # The prompt page tells editors which labels are the admins'.
    assert "Only admins may move “canary”, “production”." in html(team.editor.client.get(PAGE))


def test_a_request_from_the_prompt_page_is_approved_by_another_admin(team: Team) -> None:
    team.api("POST", f"/projects/demo/prompts/{SLUG}", json={
        "source": GREETING.replace("Hello", "Hi")})
    assert team.api("PUT", f"/projects/demo/prompts/{SLUG}/-/labels/production",
                    json={"version": 1}).status_code == 200
    team.api("PUT", "/projects/demo/settings", json={"approvals_required": 1})
    moved = team.admin.post(f"/admin/p/demo/prompts/{SLUG}/-/labels", {
        "action": "move", "label": "production", "version": "2"})
    assert moved.status_code == 302
    assert "Request #1 to point &#39;production&#39; at v2 waits for another admin" in html(
        team.admin.client.get(PAGE))
    assert team.labels()["production"] == 1
    # The requester sees the diff and may withdraw, not approve.
    own = html(team.admin.client.get(PROMOTIONS))
    assert "#1" in own and "v1 →" in own and "-  Hello {{ name }}" in own
    assert "+  Hi {{ name }}" in own and "another admin must approve it" in own
    assert "Approve request 1" not in own and "Withdraw request 1" in own
    refused = team.admin.post("/admin/p/demo/promotions/1/approve")
    assert refused.status_code == 302 and team.labels()["production"] == 1
    assert "another admin must approve it" in html(team.admin.client.get(PROMOTIONS))
    # Another admin approves it (with the form's CSRF token, never without).
    add_member(team.app, "demo", "ed@example.com", "admin", team.account.headers())
    other = html(team.editor.client.get(PROMOTIONS))
    assert "Approve request 1" in other
    assert team.editor.post("/admin/p/demo/promotions/1/approve", csrf=False).status_code == 403
    approved = team.editor.post("/admin/p/demo/promotions/1/approve")
    assert approved.status_code == 302 and team.labels()["production"] == 2
    after = html(team.editor.client.get(PROMOTIONS))
    assert "Approved request #1: support/greeting production → v2" in after
    assert "Recently decided" in after and "No request waits" in after
    actions = [e["action"] for e in team.events()]
    assert actions.index("label.moved") < actions.index("promotion.requested")
    activity = html(team.viewer.client.get("/admin/p/demo/activity"))
    assert "Approved request #1 for" in activity and "(request #1)" in activity
    assert "Changed the release settings" in activity
    assert team.editor.post("/admin/p/demo/promotions/1/approve").status_code == 302
    assert "is approved, not pending" in html(team.editor.client.get(PROMOTIONS))
    assert team.editor.post("/admin/p/demo/promotions/99999999999/reject").status_code == 404
