"""The admin's project picker, prompt list, prompt page (view, save, diff) and labels."""

from __future__ import annotations

import re

from tests.support.admin_team import PAGE, SLUG, Team, html, user
from tests.support.app import GREETING, signup

# --- projects and the prompt list ---------------------------------------------------------

def test_project_picker_and_create(team: Team) -> None:
    page = html(team.editor.client.get("/admin/"))
    assert "/admin/p/demo/" in page and "badge-editor" in page
    response = team.editor.post("/admin/projects", {"slug": "web-app", "name": "Web app"})
    assert response.status_code == 302 and response.location == "/admin/p/web-app/"
    assert "badge-admin" in html(team.editor.client.get("/admin/p/web-app/"))
    response = team.editor.post("/admin/projects", {"slug": "Bad Slug"})
    assert response.status_code == 400 and "slug" in html(response)
    response = team.editor.post("/admin/projects", {"slug": "demo"})
    assert response.status_code == 409
    response = team.editor.post("/admin/projects", {"slug": "no-csrf"}, csrf=False)
    assert response.status_code == 403
    assert team.editor.client.get("/admin/p/no-csrf/").status_code == 404


def test_prompt_list_groups_by_folder_and_filters(team: Team) -> None:
    for slug in ("billing/refund", "top"):
        team.api("POST", f"/projects/demo/prompts/{slug}", json={"source": GREETING})
    team.api("PUT", f"/projects/demo/prompts/{SLUG}/-/labels/production", json={"version": 1})
    page = html(team.viewer.client.get("/admin/p/demo/"))
    assert "support/" in page and "billing/" in page and "(top level)" in page
    assert "production → v1" in page and "ann@example.com" in page
    assert page.index("(top level)") < page.index("billing/") < page.index("support/")
    filtered = html(team.viewer.client.get("/admin/p/demo/?q=REF"))
    assert "refund" in filtered and "greeting" not in filtered
    assert "No prompt matches" in html(team.viewer.client.get("/admin/p/demo/?q=%25_zz"))


def test_non_members_get_404(team: Team) -> None:
    signup(team.app.test_client(), "out@example.com")
    outsider = user(team.app, "out@example.com")
    assert outsider.client.get("/admin/p/demo/").status_code == 404
    assert outsider.client.get(PAGE).status_code == 404

# --- the prompt page ----------------------------------------------------------------------

def test_prompt_page_renders_version_history_and_curl(team: Team) -> None:
    page = html(team.viewer.client.get(PAGE))
    assert "gpt-4o-mini" in page and "customer first name" in page
    assert "Hello {{ name }}" in page
    assert "$PROMPTSYNC_API_KEY" in page and "psk_" not in page
    assert f"/api/v1/projects/demo/prompts/{SLUG}?version=1" in page
    assert team.app.test_client().get(f"{PAGE}?v=9").status_code == 302
    assert team.viewer.client.get(f"{PAGE}?v=9").status_code == 404


def test_chat_prompt_renders_messages(team: Team) -> None:
    chat = "messages:\n  - {role: system, content: Be brief.}\n  - {role: user, content: Hi}\n"
    team.api("POST", "/projects/demo/prompts/chat", json={"source": chat})
    page = html(team.viewer.client.get("/admin/p/demo/prompts/chat"))
    assert "msg-system" in page and "Be brief." in page


def test_viewer_sees_no_edit_controls_and_cannot_post(team: Team) -> None:
    page = html(team.viewer.client.get(PAGE))
    assert "<textarea" not in page and "/-/save" not in page and "/-/labels" not in page
    response = team.viewer.post(f"{PAGE}/-/save", {"source": GREETING + "# x\n",
                                                    "parent_version": "1"})
    assert response.status_code == 403
    response = team.viewer.post(f"{PAGE}/-/labels", {"label": "staging", "version": "1"})
    assert response.status_code == 403
    assert team.versions() == [1] and team.labels() == {}


def test_editor_saves_a_new_version(team: Team) -> None:
    page = html(team.editor.client.get(PAGE))
    assert '<textarea id="source-editor" name="source"' in page
    assert 'name="parent_version" value="1"' in page
    source = GREETING.replace("Hello", "Hi").replace("\n", "\r\n")  # as browsers send it
    response = team.editor.post(f"{PAGE}/-/save", {"source": source, "parent_version": "1",
                                                    "message": "Friendlier"})
    assert response.status_code == 302
    assert team.versions() == [2, 1]
    body = team.api("GET", f"/projects/demo/prompts/{SLUG}").get_json()
    assert body["source"] == GREETING.replace("Hello", "Hi")
    assert body["author"] == "ed@example.com" and body["message"] == "Friendlier"
    page = html(team.editor.client.get(response.location))
    assert "Saved support/greeting as version 2" in page and "Friendlier" in page


def test_save_unchanged_creates_nothing(team: Team) -> None:
    response = team.editor.post(f"{PAGE}/-/save", {"source": GREETING, "parent_version": "1"})
    assert response.status_code == 302
    assert "No change" in html(team.editor.client.get(response.location))
    assert team.versions() == [1]


def test_stale_save_is_refused_and_keeps_the_text(team: Team) -> None:
    team.api("POST", f"/projects/demo/prompts/{SLUG}", json={"source": GREETING + "# v2\n"})
    mine = GREETING + "# my edit <b>\n"
    response = team.editor.post(f"{PAGE}/-/save", {"source": mine, "parent_version": "1"})
    assert response.status_code == 409
    page = html(response)
    assert "changed while you were editing" in page
    assert "# my edit &lt;b&gt;" in page  # kept, escaped
    assert 'name="rebase" value="2"' in page
    assert team.versions() == [2, 1]
    response = team.editor.post(f"{PAGE}/-/save", {"source": mine, "parent_version": "1",
                                                    "rebase": "2"})
    assert response.status_code == 302 and team.versions() == [3, 2, 1]


def test_invalid_source_shows_line_numbers_and_saves_nothing(team: Team) -> None:
    bad = "model: x\ntemplate: hi\nmessages: []\nbogus: 1\n"
    response = team.editor.post(f"{PAGE}/-/save", {"source": bad, "parent_version": "1"})
    assert response.status_code == 422
    page = html(response)
    assert "Not saved." in page and re.search(r"line \d+", page)
    assert "bogus: 1" in page and 'aria-invalid="true"' in page
    assert team.versions() == [1]


def test_save_without_csrf_is_refused(team: Team) -> None:
    response = team.editor.post(f"{PAGE}/-/save", {"source": GREETING + "#\n",
                                                    "parent_version": "1"}, csrf=False)
    assert response.status_code == 403
    response = team.editor.client.post(f"{PAGE}/-/save", data={
        "source": GREETING + "#\n", "parent_version": "1", "csrf_token": "forged"})
    assert response.status_code == 403
    assert team.versions() == [1]


def test_old_version_offers_restore(team: Team) -> None:
    team.api("POST", f"/projects/demo/prompts/{SLUG}", json={"source": GREETING + "# v2\n"})
    page = html(team.editor.client.get(f"{PAGE}?v=1"))
    assert "the latest is" in page and "Restore v1 as v3" in page
    response = team.editor.post(f"{PAGE}/-/save", {"source": GREETING, "parent_version": "2",
                                                    "message": "Restore v1"})
    assert response.status_code == 302 and team.versions() == [3, 2, 1]


def test_diff_page_highlights_changes(team: Team) -> None:
    team.api("POST", f"/projects/demo/prompts/{SLUG}",
             json={"source": GREETING.replace("Hello", "Hi")})
    page = html(team.viewer.client.get(f"{PAGE}/-/diff?from=1&to=2"))
    assert '<span class="dl dl-del">' in page and '<span class="dl dl-add">' in page
    assert "+  Hi {{ name }}" in page and "-  Hello {{ name }}" in page
    assert "No differences" in html(team.viewer.client.get(f"{PAGE}/-/diff?from=2&to=2"))
    assert team.viewer.client.get(f"{PAGE}/-/diff?from=1&to=7").status_code == 404
    assert team.viewer.client.get(f"{PAGE}/-/diff?from=0&to=0").status_code == 404

# --- labels -------------------------------------------------------------------------------

def test_editor_moves_labels_but_not_production(team: Team) -> None:
    team.api("POST", f"/projects/demo/prompts/{SLUG}", json={"source": GREETING + "#\n"})
    response = team.editor.post(f"{PAGE}/-/labels", {"label": "staging", "version": "2"})
    assert response.status_code == 302 and team.labels() == {"staging": 2}
    response = team.editor.post(f"{PAGE}/-/labels", {"label": "production", "version": "2"})
    assert "Only admins" in html(team.editor.client.get(response.location))
    assert team.labels() == {"staging": 2}
    response = team.editor.post(f"{PAGE}/-/labels", {"label": "staging", "version": "2"},
                                csrf=False)
    assert response.status_code == 403


def test_admin_promotes_rolls_back_and_removes(team: Team) -> None:
    team.api("POST", f"/projects/demo/prompts/{SLUG}", json={"source": GREETING + "#\n"})
    team.admin.post(f"{PAGE}/-/labels", {"label": "production", "version": "2"})
    assert team.labels() == {"production": 2}
    response = team.admin.post(f"{PAGE}/-/labels", {"label": "production", "version": "1"})
    assert "now points at v1 (was v2)" in html(team.admin.client.get(response.location))
    response = team.admin.post(f"{PAGE}/-/labels", {"action": "remove", "label": "production",
                                                     "expected_version": "2"})
    assert "points at 1, not 2" in html(team.admin.client.get(response.location))
    team.admin.post(f"{PAGE}/-/labels", {"action": "remove", "label": "production",
                                         "expected_version": "1"})
    assert team.labels() == {}
    response = team.admin.post(f"{PAGE}/-/labels", {"label": "Bad Label!", "version": "1"})
    assert "Bad label name" in html(team.admin.client.get(response.location))
    response = team.admin.post(f"{PAGE}/-/labels", {"label": "x", "version": "nope"})
    assert response.status_code == 400
