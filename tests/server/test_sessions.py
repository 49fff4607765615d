"""Sessions and passwords: cookie flags, logout that kills every copy, login throttling that holds
across workers and does not reveal which emails exist, password rules, sign-up, security headers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from werkzeug.test import TestResponse

from tests.support.app import dispose_app, login, make_account, make_app, signup
from webapi.extensions import db
from webapi.models import LoginThrottle, User

COOKIE = "promptsync_session"
PASSWORD = "correct horse battery"  # what tests.support.app.signup uses


@pytest.fixture
def app_factory(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Extra app instances on the test's database (like more gunicorn workers), disposed after."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = make_app(database_url, **overrides)
        made.append(app)
        return app

    yield build
    for app in made:
        dispose_app(app)


def _login(client: FlaskClient, email: str, password: str) -> TestResponse:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _signup(client: FlaskClient, email: str, password: str) -> TestResponse:
    return client.post("/api/v1/auth/signup", json={"email": email, "password": password})


def _error(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "Location" not in response.headers
    body = response.get_json()
    assert isinstance(body["error"], str) and isinstance(body["detail"], str)
    return body


def _users(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(User))
        db.session.remove()
    return int(count or 0)


def test_login_sets_an_httponly_samesite_lax_cookie(app: Flask, client: FlaskClient) -> None:
    signup(client, "ann@example.com")
    response = _login(client, "ann@example.com", PASSWORD)

    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["email"] == "ann@example.com" and body["csrf_token"]
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    assert len(cookies) == 1
    flags = {part.strip().lower() for part in cookies[0].split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert ("secure" in flags) == bool(app.config["SESSION_COOKIE_SECURE"])
    # The session holds no password material and no secret a script could read.
    assert PASSWORD not in cookies[0]


def test_logout_ends_every_copy_of_the_session(app: Flask) -> None:
    first = app.test_client()
    signup(first, "ann@example.com")
    token = login(first, "ann@example.com")
    cookie = first.get_cookie(COOKIE)
    assert cookie is not None
    copy = app.test_client()
    copy.set_cookie(COOKIE, cookie.value)
    for client in (first, copy):
        assert client.get("/api/v1/me").get_json()["user"]["email"] == "ann@example.com"

    assert first.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token}).status_code == 204

    replay = app.test_client()
    replay.set_cookie(COOKIE, cookie.value)
    for client in (first, copy, replay):
        _error(client.get("/api/v1/me"), 401)
        # With the old token too: the session is gone, so this is 401 rather than a CSRF 403.
        _error(client.post("/api/v1/projects", json={"slug": "late"},
                           headers={"X-CSRF-Token": token}), 401)
    assert _users(app) == 1

    # Logging in again works, and the old copies stay dead beside the new session.
    fresh = app.test_client()
    login(fresh, "ann@example.com")
    assert fresh.get("/api/v1/me").status_code == 200
    _error(copy.get("/api/v1/me"), 401)


def test_throttled_login_is_429_even_with_the_right_password(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=60)
    client = app.test_client()
    signup(client, "ann@example.com")

    # Unknown and known emails fail alike: same status, same body, same lockout.
    for email in ("ann@example.com", "ghost@example.com"):
        answers = [_error(_login(client, email, "wrong password!"), 401) for _ in range(2)]
        answers.append(_error(_login(client, email.upper(), "wrong password!"), 401))
        assert all(a == answers[0] for a in answers)
        locked = _login(client, email, PASSWORD)
        body = _error(locked, 429)
        assert body["error"] == "rate_limited"
        assert 0 < int(locked.headers["Retry-After"]) <= 61
        assert COOKIE not in locked.headers.get("Set-Cookie", "")
        if email == "ann@example.com":
            known_401, known_429 = answers[0], body
    assert (answers[0], body) == (known_401, known_429)

    # When the lockout ends the right password works, and the count starts again from zero.
    with app.app_context():
        past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
        db.session.execute(update(LoginThrottle).values(locked_until=past))
        db.session.commit()
        db.session.remove()
    assert _login(client, "ann@example.com", PASSWORD).status_code == 200
    _error(_login(client, "ann@example.com", "wrong password!"), 401)
    assert _login(client, "ann@example.com", PASSWORD).status_code == 200


def test_throttling_holds_across_app_instances_sharing_a_database(
    app_factory: Callable[..., Flask],
) -> None:
    workers = [app_factory(LOGIN_MAX_FAILURES=4) for _ in range(2)]
    clients = [w.test_client() for w in workers]
    signup(clients[0], "ann@example.com")

    for attempt in range(4):  # two failures seen by each worker: four in all
        _error(_login(clients[attempt % 2], "ann@example.com", "wrong password!"), 401)

    for client in clients:
        response = _login(client, "ann@example.com", PASSWORD)
        _error(response, 429)
        assert int(response.headers["Retry-After"]) > 0


def test_password_length_rules_and_no_72_byte_truncation(client: FlaskClient) -> None:
    body = _error(_signup(client, "short@example.com", "seven77"), 400)
    assert "8" in body["detail"]
    _error(_signup(client, "long@example.com", "x" * 1025), 400)
    assert _signup(client, "eight@example.com", "eight888").status_code == 201

    for length in (100, 1000):
        password = ("pässwörd-" * 120)[:length]
        email = f"len{length}@example.com"
        assert _signup(client, email, password).status_code == 201
        assert _login(client, email, password).status_code == 200
        # A password that matches the first 72 bytes (or even all but the last character) is wrong.
        _error(_login(client, email, password[:-1] + "#"), 401)

    base = "a" * 72
    assert _signup(client, "cut@example.com", base + "X").status_code == 201
    _error(_login(client, "cut@example.com", base + "Y"), 401)
    _error(_login(client, "cut@example.com", base), 401)
    assert _login(client, "cut@example.com", base + "X").status_code == 200

    wide = "é" * 36  # 72 bytes of UTF-8
    assert _signup(client, "wide@example.com", wide + "1").status_code == 201
    _error(_login(client, "wide@example.com", wide + "2"), 401)
    assert _login(client, "wide@example.com", wide + "1").status_code == 200


def test_duplicate_signup_is_409(app: Flask, client: FlaskClient) -> None:
    signup(client, "ann@example.com")
    for email in ("ann@example.com", "  ANN@Example.com "):
        body = _error(_signup(client, email, "another password"), 409)
        assert body["error"] == "conflict"
    assert _users(app) == 1
    # The original password still works: the second sign-up changed nothing.
    assert _login(client, "ann@example.com", PASSWORD).status_code == 200


def test_signup_closed_by_config_is_403(app: Flask, app_factory: Callable[..., Flask]) -> None:
    signup(app.test_client(), "ann@example.com")
    closed = app_factory(SIGNUP_OPEN=False).test_client()

    body = _error(_signup(closed, "new@example.com", "long enough"), 403)
    assert body["error"] == "forbidden"
    assert _users(app) == 1
    # Existing users still log in.
    assert _login(closed, "ann@example.com", PASSWORD).status_code == 200


def test_security_headers_on_api_responses(app: Flask, client: FlaskClient) -> None:
    account = make_account(app)
    responses = [
        client.get("/api/v1/me", headers=account.headers("viewer")),
        client.get("/api/v1/projects/demo/prompts", headers=account.headers("viewer")),
        client.post("/api/v1/auth/login", json={"email": account.email, "password": "nope nope"}),
        client.get("/api/v1/me"),
        client.get("/api/v1/nope"),
        client.patch("/api/v1/me"),
        client.post("/api/v1/auth/signup", data="{", content_type="application/json"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 401, 404, 405, 400]
    for response in responses:
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        csp = headers.get("Content-Security-Policy", "")
        assert headers.get("X-Frame-Options") == "DENY" or "frame-ancestors 'none'" in csp
        assert headers.get("Referrer-Policy") in {"same-origin", "no-referrer",
                                                  "strict-origin-when-cross-origin"}
        assert response.mimetype == "application/json"


def test_login_refuses_a_cross_site_text_plain_body(client):
    """A form posted cross-site can carry text/plain JSON; it must not log anyone in."""
    signup(client, "cross@example.com")
    body = '{"email": "cross@example.com", "password": "correct horse battery"}'
    response = client.post("/api/v1/auth/login", data=body, content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"
    assert client.get("/api/v1/me").status_code == 401
