"""`promptsync login` as each kind of member would run it: the installed command, a real server.

Every member of a project can log in and gets a key with their own role (SPEC §3: "signs in,
creates an API key for this machine, stores it"); what the key may then do follows the role.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from live import LiveServer, create_account, tool

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    url = None
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = request.getfixturevalue("postgres_url")
    with LiveServer(tmp_path / "server", database_url=url) as live:
        yield live


def _team(server: LiveServer) -> tuple[str, dict[str, str]]:
    """A fresh project with an admin, an editor, a viewer and a non-member: {role: email}."""
    tag = uuid.uuid4().hex[:8]
    project = f"team-{tag}"
    emails = {role: f"{role}-{tag}@example.com"
              for role in ("admin", "editor", "viewer", "outsider")}
    create_account(server.url, emails["admin"], PASSWORD, project)
    with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as web:
        for role in ("editor", "viewer", "outsider"):
            web.post("/auth/signup", json={"email": emails[role], "password": PASSWORD}
                     ).raise_for_status()
        login = web.post("/auth/login", json={"email": emails["admin"], "password": PASSWORD})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        for role in ("editor", "viewer"):
            web.put(f"/projects/{project}/members/{emails[role]}", json={"role": role},
                    headers=csrf).raise_for_status()
    return project, emails


class User:
    """One person's checkout and config home, running the installed `promptsync`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "repo").mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTSYNC_")}
        self.env["XDG_CONFIG_HOME"] = str(root / "xdg")

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool("promptsync"), *args], cwd=self.root / "repo", env=self.env,
                              input=input, capture_output=True, text=True, timeout=60)


def stored_key(home: Path, server: str, project: str) -> str:
    """The key `promptsync login` stored under ``home`` (checking the file is private)."""
    path = home / "xdg/promptsync/credentials.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    return str(yaml.safe_load(path.read_text())["servers"][server]["keys"][project])


def test_every_member_can_log_in_and_the_key_has_their_role(
    server: LiveServer, tmp_path: Path
) -> None:
    project, emails = _team(server)
    for role in ("admin", "editor", "viewer"):
        user = User(tmp_path / role)
        assert user.run("init", "--server", server.url, "--project", project).returncode == 0
        done = user.run("login", "--email", emails[role], "--password-stdin",
                        input=PASSWORD + "\n")
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        first = done.stderr.splitlines()[0]
        assert first.startswith(f"logged in to {server.url} as {emails[role]}: created the "
                                f"{role} key psk_")
        assert PASSWORD not in done.stderr
        key = stored_key(user.root, server.url, project)
        assert key.startswith("psk_") and key not in done.stderr
        me = httpx.get(server.url + "/api/v1/me", headers={"X-API-Key": key}, timeout=10).json()
        assert me["key"]["role"] == role and me["key"]["name"].startswith("promptsync on ")

        prompt = user.root / "repo/prompts" / f"{role}.yaml"
        prompt.write_text("template: hello from the " + role + "\n")
        pushed = user.run("push", "-m", "first")
        if role == "viewer":
            assert "push and label need the editor role" in done.stderr
            assert pushed.returncode == 1
            assert pushed.stderr == (
                "error: This needs the editor role; you have viewer: ask an admin of "
                f"'{project}' for that role if you lack it, then run promptsync login again "
                "(or use a key with that role)\n")
            status = user.run("status")
            assert status.returncode == 0, status.stderr
            assert f"new       {role}" in status.stdout  # nothing lost: still to be pushed
            assert prompt.read_text() == "template: hello from the viewer\n"
        else:
            assert "note:" not in done.stderr
            assert pushed.returncode == 0, pushed.stderr
            assert f"{role}: pushed v1" in pushed.stderr
            status = user.run("status")
            assert status.returncode == 0 and "1 in sync" in status.stderr, status.stderr
    # Each login is audited under the member's own name.
    admin_key = stored_key(tmp_path / "admin", server.url, project)
    events = httpx.get(f"{server.url}/api/v1/projects/{project}/events",
                       headers={"X-API-Key": admin_key}, timeout=10).json()["events"]
    created = {e["actor"] for e in events if e["action"] == "key.created"}
    assert created == {emails["admin"], emails["editor"], emails["viewer"]}


def test_a_non_member_is_told_to_ask_an_admin_and_nothing_is_stored(
    server: LiveServer, tmp_path: Path
) -> None:
    project, emails = _team(server)
    user = User(tmp_path / "outsider")
    assert user.run("init", "--server", server.url, "--project", project).returncode == 0
    done = user.run("login", "--email", emails["outsider"], "--password-stdin",
                    input=PASSWORD + "\n")
    assert done.returncode == 1
    assert done.stderr == (f"error: {emails['outsider']} is not a member of project '{project}' "
                           f"on {server.url}: ask one of its admins to add you, or check "
                           "--project\n")
    assert not (user.root / "xdg/promptsync/credentials.yaml").exists()
