"""POST /auth/password: session + CSRF only, bcrypt, throttled, and every other session ends."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import Account, login

PASSWORD = "correct horse battery"
NEW = "a much longer passphrase ✓"
URL = "/api/v1/auth/password"


def _change(client: FlaskClient, csrf: str, current: str = PASSWORD, new: str = NEW
            ) -> TestResponse:
    return client.post(URL, json={"current_password": current, "new_password": new},
                       headers={"X-CSRF-Token": csrf})


def test_change_keeps_this_session_and_ends_every_other(app: Flask, account: Account) -> None:
    mine, other = app.test_client(), app.test_client()
    csrf = login(mine, account.email)
    login(other, account.email)
    copied = app.test_client()
    cookie = mine.get_cookie("promptsync_session")
    assert cookie is not None
    copied.set_cookie("promptsync_session", cookie.value)
    assert copied.get("/api/v1/me").status_code == 200

    response = _change(mine, csrf)

    assert response.status_code == 204 and response.data == b""
    assert other.get("/api/v1/me").status_code == 401
    assert copied.get("/api/v1/me").status_code == 401  # a copy of this very cookie, too
    assert mine.get("/api/v1/me").get_json()["user"]["email"] == account.email
    # The same CSRF token keeps working on the renewed session.
    created = mine.post("/api/v1/projects", json={"slug": "after"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.get_json()
    fresh = app.test_client()
    old = fresh.post("/api/v1/auth/login", json={"email": account.email, "password": PASSWORD})
    assert old.status_code == 401
    assert login(fresh, account.email, NEW)
    # API keys are not sessions: they keep working.
    assert fresh.get("/api/v1/me", headers=account.headers("viewer")).status_code == 200


def test_wrong_current_password_is_refused_and_throttled(app: Flask, account: Account) -> None:
    client = app.test_client()
    csrf = login(client, account.email)
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        response = _change(client, csrf, current="not my password")
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["error"] == "forbidden"
    locked = _change(client, csrf)  # even the right password waits out the lockout
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert client.get("/api/v1/me").status_code == 200  # the session itself lives on


def test_new_password_rules_and_who_may_call(app: Flask, account: Account) -> None:
    client = app.test_client()
    csrf = login(client, account.email)
    for bad in ("short", "x" * 1025):
        response = _change(client, csrf, new=bad)
        # Refused by the declared shape (webapi/shapes/), which names the field.
        assert response.status_code == 400 and response.get_json()["field"] == "new_password"
        assert "'new_password' must be at " in response.get_json()["detail"]
    assert _change(client, csrf, new="ok" * 40).status_code == 204  # 80 chars: no truncation
    assert login(app.test_client(), account.email, "ok" * 40)
    assert login(app.test_client(), account.email, "ok" * 40)
    # Without the CSRF token, with an API key, or anonymous: refused, nothing changed.
    body = {"current_password": "ok" * 40, "new_password": NEW}
    no_csrf = client.post(URL, json=body)
    assert no_csrf.status_code == 403 and no_csrf.get_json()["error"] == "csrf_failed"
    with_key = app.test_client().post(URL, json=body, headers=account.headers("admin"))
    assert with_key.status_code == 403
    assert app.test_client().post(URL, json=body).status_code == 401
    assert login(app.test_client(), account.email, "ok" * 40)
