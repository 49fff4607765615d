"""The admin for anonymous visitors: redirects, login, signup, logout, and no API keys."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.admin_team import PAGE, Team, csrf_of, html
from tests.support.app import signup

# --- anonymous visitors, login, signup, logout --------------------------------------------

@pytest.mark.parametrize("path", ["/admin/", "/admin/p/demo/", PAGE, f"{PAGE}/-/diff",
                                  "/admin/p/demo/keys", "/admin/p/demo/members",
                                  "/admin/p/demo/activity", "/admin/p/demo/new"])
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
