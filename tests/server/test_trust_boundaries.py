"""Trust boundaries not pinned elsewhere: secrets in logs, login timing, and the login throttle
across two real gunicorn worker processes on one database."""

from __future__ import annotations

import logging
import socket
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from tests.support.app import dispose_app, make_account, make_app, signup, truncate_postgres
from tests.support.gunicorn import Gunicorn
from tests.support.live import LiveServer, create_account
from webapi.config import normalise_database_url

PASSWORD = "correct horse battery"


def _secrets_of(key: str) -> list[str]:
    return [key, key.split("_", 2)[2]]  # the key, and its secret part alone


def test_keys_and_passwords_never_reach_the_logs_even_with_sql_logging(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement and parameter
    app = make_app(sqlite_url)
    try:
        account = make_account(app)
        client = app.test_client()
        created = client.post("/api/v1/projects/demo/keys", json={"name": "ci", "role": "admin"},
                              headers=account.headers("admin")).get_json()
        key = created["key"]
        assert client.get("/api/v1/me", headers={"X-API-Key": key}).status_code == 200
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}
                          ).status_code == 200
        wrong = key[:-4] + "AAAA"
        assert client.get("/api/v1/me", headers={"X-API-Key": wrong}).status_code == 401
        assert client.delete(f"/api/v1/projects/demo/keys/{created['id']}",
                             headers=account.headers("admin")).status_code == 204
        assert client.get("/api/v1/me", headers={"X-API-Key": key}).status_code == 401
        bad_login = client.post("/api/v1/auth/login",
                                json={"email": account.email, "password": "wrong password!"})
        assert bad_login.status_code == 401
    finally:
        dispose_app(app)
    logged = caplog.text
    assert "SELECT" in logged  # the capture really saw the SQL
    for secret in [*_secrets_of(key), *_secrets_of(wrong), *(
            s for k in account.keys.values() for s in _secrets_of(k)), PASSWORD,
            "wrong password!"]:
        assert secret not in logged


def test_keys_never_reach_a_real_servers_output(tmp_path: Path, sqlite_url: str) -> None:
    server = LiveServer(tmp_path / "srv", sqlite_url).start(migrate=False)
    try:
        create_account(server.url, "ann@example.com", PASSWORD, "demo")
        with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as web:
            csrf = web.post("/auth/login", json={"email": "ann@example.com",
                                                 "password": PASSWORD}).json()["csrf_token"]
            key = web.post("/projects/demo/keys", json={"name": "x", "role": "editor"},
                           headers={"X-CSRF-Token": csrf}).json()["key"]
        with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as api:
            assert api.get("/me", headers={"X-API-Key": key}).status_code == 200
            assert api.get("/me", headers={"X-API-Key": key + "x"}).status_code == 401
            assert api.post("/prompts/a", json={"source": 1},
                            headers={"X-API-Key": key}).status_code == 400
    finally:
        server.stop()
    output = server.log()
    assert "GET /api/v1/me" in output  # the access log was captured
    for secret in [*_secrets_of(key), PASSWORD]:
        assert secret not in output


@pytest.mark.slow
def test_login_timing_does_not_tell_which_emails_exist(sqlite_url: str) -> None:
    # Production cost (12, ~0.25 s a check) so that the bcrypt time dominates any lookup.
    app = make_app(sqlite_url, BCRYPT_ROUNDS=12, LOGIN_MAX_FAILURES=1000)
    try:
        signup(app.test_client(), "known@example.com", PASSWORD)
        client = app.test_client()

        def attempt(email: str) -> float:
            started = time.perf_counter()
            response = client.post("/api/v1/auth/login",
                                   json={"email": email, "password": "not the password"})
            assert response.status_code == 401
            return time.perf_counter() - started

        attempt("nobody@example.com")  # warm-up: the dummy hash is made once per process
        attempt("known@example.com")
        known, unknown = [], []
        for n in range(5):  # interleaved, so drift in machine load hits both alike
            known.append(attempt("known@example.com"))
            unknown.append(attempt(f"nobody{n}@example.com"))
    finally:
        dispose_app(app)
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.7 <= ratio <= 1.4, (known, unknown)
    assert statistics.median(known) > 0.05  # really the production cost


def _slow_request(port: int, body: bytes) -> tuple[socket.socket, bytes]:
    """A connection that sent only its headers: one sync worker now waits for the body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nConnection: close\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode())
    return sock, body


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_login_throttle_holds_across_two_gunicorn_workers(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url")
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        truncate_postgres(url)
    limit = 5
    with Gunicorn(tmp_path / "srv", url, workers=2,
                  env={"LOGIN_MAX_FAILURES": str(limit)}) as server:
        create_account(server.url, "ann@example.com", PASSWORD, "demo")
        body = b'{"email": "ann@example.com", "password": "not the password"}'

        def fail_once() -> int:
            with httpx.Client(timeout=10) as fresh:  # a new connection every time
                return fresh.post(server.url + "/api/v1/auth/login", content=body,
                                  headers={"Content-Type": "application/json"}).status_code

        # Pin one worker on a half-sent request, so the other serves the next failures...
        sock, rest = _slow_request(server.port, body)
        time.sleep(0.2)
        statuses = [fail_once() for _ in range(limit - 2)]
        sock.sendall(rest)  # ...then let the pinned worker record its own failure.
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer[:100]
        statuses.append(fail_once())
        assert statuses == [401] * (limit - 1)
        locked = [fail_once() for _ in range(4)]  # whichever worker answers: locked out
        right = httpx.post(server.url + "/api/v1/auth/login",
                           json={"email": "ann@example.com", "password": PASSWORD}, timeout=10)
        served = server.served_by("/api/v1/auth/login")
    assert locked == [429] * 4 and right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0
    failures = [(pid, status) for pid, status in served if status in (401, 429)]
    assert len({pid for pid, status in failures if status == 401}) == 2, failures


BURST = 24  # concurrent wrong logins per email, well above the limit
# The same account however the email is written, and wrong passwords of every shape.
SPELLINGS = ("{}", "{}".upper(), "  {}  ", "{}".title())
WRONG = ("", "x", "not the password", "correct horse batter", "correct horse battery ", "ü" * 300,
         "\u202ebidi", "a" * 1024)


def _burst(url: str, email: str) -> list[int]:
    """BURST wrong logins for ``email`` released at once from as many threads; their statuses."""
    gate = threading.Barrier(BURST, timeout=30)

    def attempt(n: int) -> int:
        body = {"email": SPELLINGS[n % len(SPELLINGS)].format(email),
                "password": WRONG[n % len(WRONG)]}
        # Its own connection; plain http on loopback, so no TLS context to build 24 times.
        with httpx.Client(timeout=30, verify=False) as fresh:
            gate.wait()
            return fresh.post(url + "/api/v1/auth/login", json=body).status_code

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(attempt, range(BURST), timeout=60))


def _sql(url: str, statement: str) -> list[tuple[object, ...]]:
    """Run one statement on the server's database from outside; its rows, if any."""
    engine = sqlalchemy.create_engine(normalise_database_url(url))
    try:
        with engine.begin() as conn:
            result = conn.execute(sqlalchemy.text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _end_lockouts(url: str) -> None:
    """As if every lockout period had passed."""
    _sql(url, "UPDATE login_throttle SET locked_until = '2000-01-01 00:00:00'")


def _login(url: str, password: str) -> httpx.Response:
    return httpx.post(url + "/api/v1/auth/login",
                      json={"email": "ann@example.com", "password": password}, timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_burst_of_wrong_logins_evaluates_exactly_the_limit(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("sqlite_url")
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        truncate_postgres(url)
    limit, period = 3, 300
    # Two workers of four threads each, and a bcrypt slow enough (cost 10) that the burst
    # overlaps: a check of the lock that is not atomic with counting lets extra guesses in.
    env = {"LOGIN_MAX_FAILURES": str(limit), "LOGIN_LOCKOUT_SECONDS": str(period),
           "BCRYPT_ROUNDS": "10", "GUNICORN_CMD_ARGS": "--threads 4"}
    started = time.monotonic()
    with Gunicorn(tmp_path / "srv", url, workers=2, env=env) as server:
        create_account(server.url, "ann@example.com", PASSWORD, "demo")
        # A known email and an unknown one are throttled alike: exactly `limit` passwords
        # are checked (401), every other attempt is refused without a check (429).
        for email in ("ann@example.com", "ghost@example.com"):
            statuses = _burst(server.url, email)
            assert Counter(statuses) == {401: limit, 429: BURST - limit}, (email, statuses)
        right = _login(server.url, PASSWORD)
        assert right.status_code == 429, right.text
        assert right.json()["error"] == "rate_limited"
        assert 0 < int(right.headers["Retry-After"]) <= period + 1
        stored = _sql(url, "SELECT email, failures FROM login_throttle ORDER BY email")
        assert stored == [("ann@example.com", limit), ("ghost@example.com", limit)]

        # When a lockout ends, one more password is checked, however many arrive; a wrong one
        # locks the account again for twice as long.
        _end_lockouts(url)
        statuses = _burst(server.url, "ann@example.com")
        assert Counter(statuses) == {401: 1, 429: BURST - 1}, statuses
        again = _login(server.url, PASSWORD)
        assert again.status_code == 429
        assert period < int(again.headers["Retry-After"]) <= 2 * period + 1

        # And a right one, when it is the one checked, logs in and starts the count from zero.
        _end_lockouts(url)
        assert _login(server.url, PASSWORD).status_code == 200
        assert _sql(url, "SELECT email FROM login_throttle") == [("ghost@example.com",)]
    assert time.monotonic() - started < 120
