"""`promptsync login` in-process: what happens when replacing the previous key goes wrong.

The happy paths run the installed command against a real server in
tests/system/test_login_e2e.py; here the app runs in-process (httpx WSGI transport) so that one
request can be made to fail on purpose.
"""

from __future__ import annotations

import errno
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import Result
from flask import Flask

from tests.support.app import IN_PROCESS, Account
from tests.support.cli import run_cli

SERVER = IN_PROCESS
pytestmark = pytest.mark.usefixtures("repo")  # every test runs in a prompt repository


class Failing(httpx.BaseTransport):
    """The app in-process; requests matching ``fail`` (method, path end) get ``answer``."""

    def __init__(self, app: Flask) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.fail: tuple[str, str] | None = None
        self.answer: httpx.Response | Exception = httpx.Response(503)
        self.seen: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        if self.fail and request.method == self.fail[0] and self.fail[1] in request.url.path:
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer
        return self.inner.handle_request(request)


@pytest.fixture
def transport(app: Flask) -> Failing:
    return Failing(app)


def login(transport: Failing, account: Account) -> Result:
    return run_cli(transport, "login", "--email", account.email, "--password-stdin",
                   input=account.password + "\n")


def credentials(tmp_path: Path) -> Path:
    return tmp_path / "xdg/promptsync/credentials.yaml"


def stored(tmp_path: Path) -> str:
    return str(yaml.safe_load(credentials(tmp_path).read_text())["servers"][SERVER]["keys"]["demo"])


def works(app: Flask, key: str) -> bool:
    return app.test_client().get("/api/v1/me", headers={"X-API-Key": key}).status_code == 200


def active_keys(app: Flask, account: Account) -> list[str]:
    response = app.test_client().get("/api/v1/projects/demo/keys", headers=account.headers())
    return [k["prefix"] for k in response.get_json()["keys"]]


@pytest.mark.parametrize("fail, answer", [
    (("DELETE", "/keys/"), httpx.Response(503)),
    (("DELETE", "/keys/"), httpx.ConnectError("connection refused")),
    (("GET", "/keys"), httpx.Response(500)),
])
def test_a_failed_revocation_is_one_line_and_the_new_key_is_kept(
    app: Flask, account: Account, transport: Failing, tmp_path: Path,
    fail: tuple[str, str], answer: httpx.Response | Exception,
) -> None:
    first = login(transport, account)
    assert first.exit_code == 0, first.output
    old = stored(tmp_path)
    transport.fail, transport.answer = fail, answer
    again = login(transport, account)
    assert again.exit_code == 0, again.output
    new = stored(tmp_path)
    assert new != old and works(app, new) and works(app, old)
    # A refused connection is tried again first, each time said on a line of its own
    # (tests/client/test_retry.py); the failure itself is one line.
    lines = [line for line in again.stderr.splitlines() if "; retrying in " not in line]
    assert len(lines) == 2 and lines[0].startswith("logged in to http://testserver as ")
    assert lines[1].startswith(f"warning: could not revoke {old[:12]}, the key login stored "
                               "here before: ")
    assert lines[1].endswith("; revoke it on http://testserver/admin/p/demo/keys")
    assert ("POST", "/api/v1/auth/logout") in transport.seen  # the session still ends


def test_when_the_new_key_cannot_be_stored_it_is_revoked_and_the_old_one_kept(
    app: Flask, account: Account, transport: Failing, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert login(transport, account).exit_code == 0
    old = stored(tmp_path)
    before = active_keys(app, account)

    def full_disk(*args: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(credentials(tmp_path)))

    monkeypatch.setattr("promptsync.config.save_credentials", full_disk)
    again = login(transport, account)
    assert again.exit_code == 1
    assert again.stderr == f"error: {credentials(tmp_path)}: No space left on device\n"
    assert stored(tmp_path) == old and works(app, old)
    assert active_keys(app, account) == before  # the key made for nothing is revoked again


@pytest.mark.parametrize("content", ["servers: [not, a, mapping]\n", "servers: {a: b\n"])
def test_an_unreadable_credentials_file_stops_login_before_a_key_is_made(
    app: Flask, account: Account, transport: Failing, tmp_path: Path, content: str,
) -> None:
    credentials(tmp_path).parent.mkdir(parents=True)
    credentials(tmp_path).write_text(content)
    before = active_keys(app, account)
    done = login(transport, account)
    assert done.exit_code == 1
    assert done.stderr.startswith(f"error: {credentials(tmp_path)}: ")
    assert done.stderr.endswith("; fix or delete it and log in again\n")
    assert len(done.stderr.splitlines()) == 1
    assert active_keys(app, account) == before and not transport.seen  # not even signed in
    assert credentials(tmp_path).read_text() == content


def test_login_with_nothing_on_stdin_says_what_to_pass(transport: Failing,
                                                        account: Account) -> None:
    # In CI (stdin not a terminal, at its end) the Email prompt met EOF: "interrupted", exit 130.
    for args in (["login"], ["login", "--email", account.email]):
        result = run_cli(transport, *args, input="")
        assert result.exit_code == 2, result.output
        assert "stdin is not a terminal" in result.stderr and "--password-stdin" in result.stderr
        assert "interrupted" not in result.stderr
    assert login(transport, account).exit_code == 0  # the way it says still works


def test_a_locked_out_login_says_when_once(transport: Failing, account: Account) -> None:
    # It said "…; try again later: try again in 300 s".
    transport.fail = ("POST", "/auth/login")
    transport.answer = httpx.Response(429, json={
        "error": "too_many_requests", "retry_after": 300,
        "detail": "Too many failed logins for this account; try again later."})
    result = login(transport, account)
    assert result.exit_code == 1
    assert result.stderr == ("error: Too many failed logins for this account; "
                             "try again in 300 s\n")


def test_an_invitee_who_has_not_accepted_is_told_to_accept(app: Flask, transport: Failing,
                                                           account: Account) -> None:
    # "not a member …: ask one of its admins to add you" sent them to an admin who had.
    from tests.support.app import signup

    signup(app.test_client(), "bo@example.com")
    invited = app.test_client().put("/api/v1/projects/demo/members/bo@example.com",
                                    json={"role": "editor"}, headers=account.headers())
    assert invited.status_code == 202
    result = run_cli(transport, "login", "--email", "bo@example.com", "--password-stdin",
                     input="correct horse battery\n")
    assert result.exit_code == 1
    assert result.stderr == (f"error: bo@example.com is invited to project 'demo' as editor and "
                             f"has not accepted yet: accept it on {SERVER}/admin/ (your "
                             "projects), then run promptsync login again\n")
