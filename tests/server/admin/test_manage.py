"""The admin's API keys and members pages, and what every admin page must hold."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.support.admin_team import PAGE, SLUG, Team, html
from tests.support.admin_team import user as logged_in
from tests.support.app import signup

# --- keys and members ---------------------------------------------------------------------

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


def test_members_stay_admin_only_and_keys_open_to_every_member(team: Team) -> None:
    for user in (team.editor, team.viewer):
        assert user.client.get("/admin/p/demo/members").status_code == 403
        assert user.post("/admin/p/demo/members", {"email": "vi@example.com",
                                                   "role": "admin"}).status_code == 403
        assert user.post("/admin/p/demo/members/remove",
                         {"email": "ann@example.com"}).status_code == 403
        assert user.client.get("/admin/p/demo/keys").status_code == 200
        page = html(user.client.get("/admin/p/demo/"))
        assert "/admin/p/demo/keys" in page and "/admin/p/demo/members" not in page
    keys = team.api("GET", "/projects/demo/keys").get_json()["keys"]
    assert len(keys) == 3


def _options(page: str) -> list[str]:
    select = re.search(r'<select id="key-role".*?</select>', page, re.S)
    assert select, "no role select"
    return re.findall(r'<option value="([^"]+)"', select.group(0))


@pytest.mark.parametrize("who, allowed", [("editor", ["viewer", "editor"]),
                                          ("viewer", ["viewer"])])
def test_a_member_manages_only_their_own_keys(team: Team, who: str, allowed: list[str]) -> None:
    member = getattr(team, who)
    email = {"editor": "ed@example.com", "viewer": "vi@example.com"}[who]
    page = html(member.client.get("/admin/p/demo/keys"))
    assert _options(page) == allowed  # the select offers only roles the API would accept
    assert "You have no active keys" in page
    assert not any(key[:12] in page for key in team.account.keys.values())  # not the admin's

    response = member.post("/admin/p/demo/keys", {"name": "laptop", "role": who})
    assert response.status_code == 201
    key = re.search(r'id="new-key">(psk_[^<]+)<', html(response)).group(1)  # type: ignore[union-attr]
    me = team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key}).get_json()
    assert me["key"]["role"] == who and me["user"]["email"] == email
    page = html(member.client.get("/admin/p/demo/keys"))
    assert key[:12] in page and key not in page and "laptop" in page

    # A role above theirs (a crafted form): refused with the API's words, name kept, no key.
    above = "admin" if who == "editor" else "editor"
    response = member.post("/admin/p/demo/keys", {"name": "ci", "role": above})
    assert response.status_code == 403
    assert f"at most the {who} role, not {above}" in html(response)
    assert 'value="ci"' in html(response) and 'id="new-key"' not in html(response)
    assert len(team.api("GET", "/projects/demo/keys").get_json()["keys"]) == 4

    # Another member's key (the admin's): refused, and it keeps working.
    theirs = next(k for k in team.api("GET", "/projects/demo/keys").get_json()["keys"]
                  if team.account.keys["admin"].startswith(k["prefix"]))
    response = member.post(f"/admin/p/demo/keys/{theirs['id']}/revoke")
    assert response.status_code == 302
    assert "created by another member" in html(member.client.get(response.location))
    assert team.api("GET", "/projects/demo/keys").status_code == 200  # that key, still working

    # Their own: without the CSRF field nothing happens; with it, revoked at once.
    assert member.post(f"/admin/p/demo/keys/{me['key']['id']}/revoke", csrf=False
                       ).status_code == 403
    assert team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key}).status_code == 200
    response = member.post(f"/admin/p/demo/keys/{me['key']['id']}/revoke")
    assert "Key revoked" in html(member.client.get(response.location))
    assert team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key}).status_code == 401
    actions = [(e["action"], e["actor"]) for e in team.events()[:2]]
    assert actions == [("key.revoked", email), ("key.created", email)]


def test_the_admin_still_sees_and_revokes_every_key(team: Team) -> None:
    created = team.editor.post("/admin/p/demo/keys", {"name": "ed laptop", "role": "editor"})
    key = re.search(r'id="new-key">(psk_[^<]+)<', html(created)).group(1)  # type: ignore[union-attr]
    page = html(team.admin.client.get("/admin/p/demo/keys"))
    assert _options(page) == ["viewer", "editor", "admin"]
    assert key[:12] in page and "by ed@example.com" in page and "Your own keys" not in page
    key_id = team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key}
                                        ).get_json()["key"]["id"]
    team.admin.post(f"/admin/p/demo/keys/{key_id}/revoke")
    assert team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key}).status_code == 401
    # An id past the column's range is a plain 404 page, never a 500.
    assert team.admin.post("/admin/p/demo/keys/99999999999/revoke").status_code == 404


def test_key_create_without_csrf_writes_nothing(team: Team) -> None:
    response = team.admin.post("/admin/p/demo/keys", {"name": "x", "role": "viewer"}, csrf=False)
    assert response.status_code == 403
    assert len(team.api("GET", "/projects/demo/keys").get_json()["keys"]) == 3


def test_members_invite_change_remove_and_last_admin(team: Team) -> None:
    signup(team.app.test_client(), "new@example.com")
    response = team.admin.post("/admin/p/demo/members", {"email": "New@example.com",
                                                         "role": "viewer"})
    page = html(team.admin.client.get(response.location))
    assert "Invited new@example.com as viewer" in page
    page = html(team.admin.client.get("/admin/p/demo/members"))
    assert "Pending invitations" in page and "Withdraw the invitation to new@example.com" in page
    members = team.api("GET", "/projects/demo/members").get_json()["members"]
    assert "new@example.com" not in [m["email"] for m in members]  # not without saying yes
    newcomer = logged_in(team.app, "new@example.com")
    home = html(newcomer.client.get("/admin/"))
    invitation = team.api("GET", "/projects/demo/members").get_json()["invitations"][0]["id"]
    assert f"/admin/invitations/{invitation}/accept" in home
    response = newcomer.post(f"/admin/invitations/{invitation}/accept")
    assert response.status_code == 302 and response.location.endswith("/admin/p/demo/")
    assert "You joined &#39;demo&#39; as viewer" in html(newcomer.client.get(response.location))
    team.admin.post("/admin/p/demo/members", {"email": "new@example.com", "role": "editor"})
    assert "new@example.com is now editor" in html(team.admin.client.get("/admin/p/demo/members"))
    team.admin.post("/admin/p/demo/members/remove", {"email": "new@example.com"})
    members = team.api("GET", "/projects/demo/members").get_json()["members"]
    assert "new@example.com" not in [m["email"] for m in members]
    response = team.admin.post("/admin/p/demo/members/remove", {"email": "ann@example.com"})
    assert "last admin" in html(team.admin.client.get(response.location))
    response = team.admin.post("/admin/p/demo/members", {"email": "ann@example.com",
                                                         "role": "viewer"})
    assert "at least one admin" in html(team.admin.client.get(response.location))
    # No account: the same answer as for new@example.com, and the invitation can be withdrawn.
    response = team.admin.post("/admin/p/demo/members", {"email": "ghost@example.com",
                                                         "role": "viewer"})
    assert "Invited ghost@example.com as viewer" in html(team.admin.client.get(response.location))
    team.admin.post("/admin/p/demo/members/remove", {"email": "ghost@example.com"})
    assert team.api("GET", "/projects/demo/members").get_json()["invitations"] == []
    response = team.admin.post("/admin/p/demo/members", {"email": "bad@@example.com",
                                                         "role": "viewer"})
    assert "&#39;email&#39; must be an email address" in html(
        team.admin.client.get(response.location))


def test_an_invitee_declines_from_the_projects_page(team: Team) -> None:
    signup(team.app.test_client(), "new@example.com")
    team.admin.post("/admin/p/demo/members", {"email": "new@example.com", "role": "editor"})
    invitation = team.api("GET", "/projects/demo/members").get_json()["invitations"][0]["id"]
    newcomer = logged_in(team.app, "new@example.com")
    assert newcomer.post(f"/admin/invitations/{invitation}/decline", csrf=False).status_code \
        == 403
    response = newcomer.post(f"/admin/invitations/{invitation}/decline")
    assert "Invitation declined" in html(newcomer.client.get(response.location))
    assert "/accept" not in html(newcomer.client.get("/admin/"))
    assert newcomer.client.get("/admin/p/demo/").status_code == 404
    # Somebody else's (or a used) invitation: said plainly, nothing changes.
    response = team.viewer.post(f"/admin/invitations/{invitation}/accept")
    assert "No such invitation" in html(team.viewer.client.get(response.location))
    response = team.admin.post("/admin/p/demo/members", {"email": "x@example.com"},
                               csrf=False)
    assert response.status_code == 403

# --- page hygiene -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/", "/admin/p/demo/", PAGE, f"{PAGE}/-/diff",
                                  "/admin/p/demo/keys", "/admin/p/demo/members",
                                  "/admin/p/demo/activity", "/admin/p/demo/new"])
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


@pytest.mark.parametrize("method, path, form", [
    ("GET", "/admin/p/demo/?q=a%00", None),
    ("GET", f"{PAGE}/-/diff?from=x%00&to=1", None),
    ("GET", "/admin/p/demo/activity?cursor=%00", None),
    ("POST", "/admin/p/demo/keys", {"name": "ci\x00", "role": "viewer"}),
    ("POST", "/admin/projects", {"slug": "nul", "name": "N\x00"}),
    ("POST", "/admin/p/demo/new", {"slug": "a\x00b", "source": "template: hi\n"}),
    ("POST", f"{PAGE}/-/labels", {"label": "x\x00", "version": "1"}),
])
def test_a_nul_anywhere_is_a_400_on_every_backend(team: Team, method: str, path: str,
                                                  form: dict[str, str] | None) -> None:
    if method == "GET":
        response = team.admin.client.get(path)
    else:
        response = team.admin.post(path, form)
    assert response.status_code == 400 and "NUL character" in html(response)
    # The team's making: project, 3 keys, 2 members invited and joined, 1 version.
    assert team.slugs() == [SLUG] and len(team.events()) == 9


def test_static_files_are_served_to_anyone(client: FlaskClient) -> None:
    for name in ("admin.css", "admin.js"):
        response = client.get(f"/admin/static/{name}")
        assert response.status_code == 200
        response.close()


def test_error_pages_are_html_under_admin(team: Team) -> None:
    response = team.admin.client.get("/admin/p/nope/")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and "Not found" in html(response)
