"""The web admin through Flask's test client: every page, every role, CSRF and redirects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import GREETING, Account, login, make_account, signup
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

SLUG = "support/greeting"
PAGE = f"/admin/p/demo/prompts/{SLUG}"


@dataclass
class User:
    """A logged-in browser-like client and its CSRF token."""

    client: FlaskClient
    csrf: str

    def post(self, path: str, data: dict[str, str] | None = None,
             csrf: bool = True) -> TestResponse:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        return self.client.post(path, data=form)


@dataclass
class Team:
    """Project 'demo' with a prompt at v1, and an admin, an editor and a viewer signed in."""

    app: Flask
    account: Account
    admin: User
    editor: User
    viewer: User

    def api(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        client = self.app.test_client()
        return client.open(f"/api/v1{path}", method=method, headers=self.account.headers(),
                           **kwargs)

    def versions(self) -> list[int]:
        body = self.api("GET", f"/projects/demo/prompts/{SLUG}/-/versions").get_json()
        return [v["version"] for v in body["versions"]]

    def labels(self) -> dict[str, int]:
        body = self.api("GET", "/projects/demo/prompts").get_json()
        return body["prompts"][0]["labels"]


def _user(app: Flask, email: str) -> User:
    client = app.test_client()
    return User(client, login(client, email))


@pytest.fixture
def team(app: Flask) -> Team:
    account = make_account(app)
    web = app.test_client()
    for email, role in (("ed@example.com", "editor"), ("vi@example.com", "viewer")):
        signup(web, email)
        response = web.put(f"/api/v1/projects/demo/members/{email}", json={"role": role},
                           headers=account.headers())
        assert response.status_code == 200, response.get_json()
    response = web.post(f"/api/v1/projects/demo/prompts/{SLUG}", json={"source": GREETING},
                        headers=account.headers())
    assert response.status_code == 201, response.get_json()
    return Team(app, account, _user(app, account.email), _user(app, "ed@example.com"),
                _user(app, "vi@example.com"))


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "page has no CSRF field"
    return match.group(1)


# --- anonymous visitors, login, signup, logout ---------------------------------------------

@pytest.mark.parametrize("path", ["/admin/", "/admin/p/demo/", PAGE, f"{PAGE}/-/diff",
                                  "/admin/p/demo/keys", "/admin/p/demo/members"])
def test_anonymous_pages_redirect_to_login_with_next(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    parts = urlsplit(response.location)
    assert parts.path == "/admin/login" and parse_qs(parts.query)["next"] == [path]


def test_anonymous_post_writes_nothing(team: Team) -> None:
    anon = team.app.test_client()
    response = anon.post(f"{PAGE}/-/save", data={"source": "x", "parent_version": "1"})
    assert response.status_code == 302
    assert team.versions() == [1]


def test_api_never_redirects_and_root_goes_to_admin(client: FlaskClient) -> None:
    response = client.get("/api/v1/projects")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    assert client.get("/").location.endswith("/admin/")


def test_login_page_logs_in_and_follows_local_next(app: Flask) -> None:
    web = app.test_client()
    signup(web, "ann@example.com")
    page = html(web.get("/admin/login?next=/admin/p/demo/"))
    assert 'type="password"' in page and 'for="email"' in page
    response = web.post("/admin/login", data={
        "csrf_token": csrf_of(page), "email": "Ann@Example.com",
        "password": "correct horse battery", "next": "/admin/p/demo/"})
    assert response.status_code == 302 and response.location == "/admin/p/demo/"
    assert "ann@example.com" in html(web.get("/admin/"))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil",
                                    "/api/v1/me", "javascript:alert(1)"])
def test_login_never_redirects_off_the_admin(app: Flask, target: str) -> None:
    web = app.test_client()
    signup(web, "ann@example.com")
    page = html(web.get("/admin/login"))
    response = web.post("/admin/login", data={
        "csrf_token": csrf_of(page), "email": "ann@example.com",
        "password": "correct horse battery", "next": target})
    assert response.location == "/admin/"


def test_login_errors_and_throttle(app: Flask) -> None:
    web = app.test_client()
    signup(web, "ann@example.com")
    token = csrf_of(html(web.get("/admin/login")))
    response = web.post("/admin/login", data={"email": "ann@example.com", "password": "x" * 9})
    assert response.status_code == 400  # no CSRF field
    pages = []
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1):
        response = web.post("/admin/login", data={
            "csrf_token": token, "email": "ann@example.com", "password": "wrong password"})
        pages.append((response.status_code, html(response)))
    assert pages[0][0] == 401 and "Wrong email or password" in pages[0][1]
    assert 'value="ann@example.com"' in pages[0][1]
    assert response.status_code == 429
    assert "Too many failed logins" in html(response)
    assert response.headers.get("Retry-After")
    response = web.post("/admin/login", data={
        "csrf_token": token, "email": "ann@example.com", "password": "correct horse battery"})
    assert response.status_code == 429  # locked even with the right password


def test_signup_form_signs_in_and_refuses_duplicates(app: Flask) -> None:
    web = app.test_client()
    token = csrf_of(html(web.get("/admin/signup")))
    form = {"csrf_token": token, "email": "new@example.com",
            "password": "long enough pw", "confirm": "long enough pw"}
    response = web.post("/admin/signup", data=form)
    assert response.status_code == 302 and response.location == "/admin/"
    assert "new@example.com" in html(web.get("/admin/"))
    other = app.test_client()
    form["csrf_token"] = csrf_of(html(other.get("/admin/signup")))
    response = other.post("/admin/signup", data=form)
    assert response.status_code == 409
    assert "already exists" in html(response)
    form.update(email="x@example.com", confirm="different pw!")
    response = other.post("/admin/signup", data=form)
    assert response.status_code == 400 and "differ" in html(response)


def test_signup_closed(app: Flask) -> None:
    app.config["SIGNUP_OPEN"] = False
    web = app.test_client()
    assert "Sign-up is closed" in html(web.get("/admin/signup"))
    response = web.post("/admin/signup", data={
        "csrf_token": csrf_of(html(web.get("/admin/login"))), "email": "a@example.com",
        "password": "long enough pw"})
    assert response.status_code == 403


def test_logout_needs_csrf_and_ends_the_session(team: Team) -> None:
    response = team.admin.post("/admin/logout", csrf=False)
    assert response.status_code == 403
    assert team.admin.client.get("/admin/").status_code == 200
    response = team.admin.post("/admin/logout")
    assert response.status_code == 302 and response.location == "/admin/login"
    assert team.admin.client.get("/admin/").status_code == 302


def test_admin_pages_refuse_api_keys(team: Team) -> None:
    response = team.app.test_client().get("/admin/", headers=team.account.headers())
    assert response.status_code == 403


# --- projects and the prompt list ------------------------------------------------------------

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
    outsider = _user(team.app, "out@example.com")
    assert outsider.client.get("/admin/p/demo/").status_code == 404
    assert outsider.client.get(PAGE).status_code == 404


# --- the prompt page -------------------------------------------------------------------------

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


# --- labels -----------------------------------------------------------------------------------

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


# --- keys and members -------------------------------------------------------------------------

def test_keys_page_creates_shows_once_and_revokes(team: Team) -> None:
    page = html(team.admin.client.get("/admin/p/demo/keys"))
    assert "viewer" in page and "psk_" in page  # prefixes are listed
    response = team.admin.post("/admin/p/demo/keys", {"name": "laptop", "role": "editor"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    key = re.search(r'id="new-key">(psk_[^<]+)<', html(response)).group(1)  # type: ignore[union-attr]
    assert "shown only once" in html(response)
    me = team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.get_json()["key"]["role"] == "editor"
    assert key not in html(team.admin.client.get("/admin/p/demo/keys"))
    key_id = me.get_json()["key"]["id"]
    response = team.admin.post(f"/admin/p/demo/keys/{key_id}/revoke")
    assert response.status_code == 302
    assert team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key}).status_code == 401
    response = team.admin.post(f"/admin/p/demo/keys/{key_id}/revoke")
    assert "No active key" in html(team.admin.client.get(response.location))
    response = team.admin.post("/admin/p/demo/keys", {"name": "", "role": "editor"})
    assert response.status_code == 400


def test_keys_and_members_are_admin_only(team: Team) -> None:
    for user in (team.editor, team.viewer):
        assert user.client.get("/admin/p/demo/keys").status_code == 403
        assert user.client.get("/admin/p/demo/members").status_code == 403
        assert user.post("/admin/p/demo/keys", {"name": "x", "role": "viewer"}).status_code == 403
        assert user.post("/admin/p/demo/members", {"email": "vi@example.com",
                                                   "role": "admin"}).status_code == 403
        assert user.post("/admin/p/demo/members/remove",
                         {"email": "ann@example.com"}).status_code == 403
    page = html(team.editor.client.get("/admin/p/demo/"))
    assert "/admin/p/demo/keys" not in page
    keys = team.api("GET", "/projects/demo/keys").get_json()["keys"]
    assert len(keys) == 3


def test_key_create_without_csrf_writes_nothing(team: Team) -> None:
    response = team.admin.post("/admin/p/demo/keys", {"name": "x", "role": "viewer"}, csrf=False)
    assert response.status_code == 403
    assert len(team.api("GET", "/projects/demo/keys").get_json()["keys"]) == 3


def test_members_add_change_remove_and_last_admin(team: Team) -> None:
    signup(team.app.test_client(), "new@example.com")
    team.admin.post("/admin/p/demo/members", {"email": "New@example.com", "role": "viewer"})
    page = html(team.admin.client.get("/admin/p/demo/members"))
    assert "new@example.com is now viewer" in page and "(you)" in page
    team.admin.post("/admin/p/demo/members", {"email": "new@example.com", "role": "editor"})
    team.admin.post("/admin/p/demo/members/remove", {"email": "new@example.com"})
    members = team.api("GET", "/projects/demo/members").get_json()["members"]
    assert "new@example.com" not in [m["email"] for m in members]
    response = team.admin.post("/admin/p/demo/members/remove", {"email": "ann@example.com"})
    assert "last admin" in html(team.admin.client.get(response.location))
    response = team.admin.post("/admin/p/demo/members", {"email": "ann@example.com",
                                                         "role": "viewer"})
    assert "at least one admin" in html(team.admin.client.get(response.location))
    response = team.admin.post("/admin/p/demo/members", {"email": "ghost@example.com",
                                                         "role": "viewer"})
    assert "must sign up first" in html(team.admin.client.get(response.location))
    response = team.admin.post("/admin/p/demo/members", {"email": "x@example.com"},
                               csrf=False)
    assert response.status_code == 403


# --- page hygiene -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/", "/admin/p/demo/", PAGE, f"{PAGE}/-/diff",
                                  "/admin/p/demo/keys", "/admin/p/demo/members"])
def test_pages_have_no_inline_script_and_are_not_cached(team: Team, path: str) -> None:
    response = team.admin.client.get(path)
    assert response.status_code == 200
    page = html(response)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert " on" + "click=" not in page and "style=" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for form in re.findall(r'<form method="post".*?</form>', page, re.S):
        assert 'name="csrf_token"' in form


def test_static_files_are_served_to_anyone(client: FlaskClient) -> None:
    for name in ("admin.css", "admin.js"):
        response = client.get(f"/admin/static/{name}")
        assert response.status_code == 200
        response.close()


def test_error_pages_are_html_under_admin(team: Team) -> None:
    response = team.admin.client.get("/admin/p/nope/")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "Not found" in html(response)
