"""`promptsync login` as each kind of member would run it: the installed command, a real server.

Every member of a project can log in: the command signs in, creates an API key for this machine
with the member's own role, and stores it; what the key may then do follows the role.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.command import run_command
from tests.support.environment import command_env
from tests.support.live import LiveServer, create_account

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture
def server(module_server: LiveServer) -> LiveServer:
    """One server per backend for the whole module: each test makes a team of its own."""
    return module_server


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
            invited = web.put(f"/projects/{project}/members/{emails[role]}", json={"role": role},
                              headers=csrf)
            assert invited.status_code == 202, invited.text
            with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as invitee:
                token = invitee.post("/auth/login", json={"email": emails[role],
                                                           "password": PASSWORD}).json()
                invitee.post(f"/invitations/{invited.json()['invitation']['id']}/accept",
                             headers={"X-CSRF-Token": token["csrf_token"]}).raise_for_status()
    return project, emails


class User:
    """One person's checkout and config home, running the installed `promptsync`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "repo").mkdir(parents=True)
        self.env = command_env(root / "xdg")

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_command(self.root / "repo", self.env, *args, input=input)


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


# --- logging in again on the same machine -------------------------------------------------

def _login(user: User, server: LiveServer, project: str, email: str
           ) -> subprocess.CompletedProcess[str]:
    if not (user.root / "repo/promptsync.yaml").exists():
        assert user.run("init", "--server", server.url, "--project", project).returncode == 0
    done = user.run("login", "--email", email, "--password-stdin", input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    return done


def _works(server: LiveServer, key: str) -> bool:
    response = httpx.get(server.url + "/api/v1/me", headers={"X-API-Key": key}, timeout=10)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def _api_key(server: LiveServer, email: str, project: str, name: str) -> str:
    """A key ``email`` makes through the API with a session (not through promptsync login)."""
    with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as web:
        login = web.post("/auth/login", json={"email": email, "password": PASSWORD})
        created = web.post(f"/projects/{project}/keys", json={"name": name, "role": "viewer"},
                           headers={"X-CSRF-Token": login.json()["csrf_token"]})
        assert created.status_code == 201, created.text
        return str(created.json()["key"])


def _prefix(key: str) -> str:
    return "_".join(key.split("_")[:2])


@pytest.mark.parametrize("role", ["admin", "viewer"])  # admins list every key, viewers their own
def test_logging_in_again_revokes_the_key_login_stored_here_and_no_other(
    server: LiveServer, tmp_path: Path, role: str
) -> None:
    project, emails = _team(server)
    laptop, desktop = User(tmp_path / "laptop"), User(tmp_path / "desktop")
    _login(laptop, server, project, emails[role])
    _login(desktop, server, project, emails[role])
    made_in_the_api = _api_key(server, emails[role], project, "ci")
    colleague = User(tmp_path / "colleague")
    _login(colleague, server, project, emails["editor"])
    old = stored_key(laptop.root, server.url, project)

    again = _login(laptop, server, project, emails[role])
    new = stored_key(laptop.root, server.url, project)
    assert new != old
    lines = again.stderr.splitlines()
    assert lines[0].startswith(f"logged in to {server.url} as {emails[role]}: created the ")
    assert lines[1] == f"revoked {_prefix(old)}, the key login stored here before"
    assert not _works(server, old)
    for key in (new, stored_key(desktop.root, server.url, project), made_in_the_api,
                stored_key(colleague.root, server.url, project)):
        assert _works(server, key)
    status = laptop.run("status")  # the new key serves the next command
    assert status.returncode == 0, status.stderr

    # A third login replaces the second key in turn: one login key per machine, never a pile.
    third = _login(laptop, server, project, emails[role])
    assert f"revoked {_prefix(new)}," in third.stderr and not _works(server, new)
    with httpx.Client(base_url=server.url + "/api/v1", timeout=10) as web:
        login = web.post("/auth/login", json={"email": emails[role], "password": PASSWORD})
        assert login.status_code == 200
        keys = web.get(f"/projects/{project}/keys").json()["keys"]
        events = web.get(f"/projects/{project}/events").json()["events"] if role == "admin" \
            else []
    host = f"promptsync on {socket.gethostname()}"[:100]  # laptop and desktop: one host here
    assert sorted(k["name"] for k in keys if k["created_by"] == emails[role]) == sorted(
        ["ci", host, host])
    if role == "admin":  # each revocation is in the events log under the user's name
        revoked = [e for e in events if e["action"] == "key.revoked"]
        assert [(e["actor"], e["details"]["prefix"]) for e in revoked] == [
            (emails[role], _prefix(new)), (emails[role], _prefix(old))]


def test_a_key_stored_here_by_someone_else_or_made_another_way_is_left_alone(
    server: LiveServer, tmp_path: Path
) -> None:
    project, emails = _team(server)
    shared = User(tmp_path / "shared")  # one config home, two people logging in turn by turn
    _login(shared, server, project, emails["editor"])
    editors = stored_key(shared.root, server.url, project)
    done = _login(shared, server, project, emails["admin"])  # an admin could revoke it: must not
    assert "revoked" not in done.stderr and "warning" not in done.stderr
    assert _works(server, editors)

    # A key the admin made in the API, stored here by hand (as promptsync dev stores its own).
    by_hand = _api_key(server, emails["admin"], project, "dev laptop")
    path = shared.root / "xdg/promptsync/credentials.yaml"
    data = yaml.safe_load(path.read_text())
    data["servers"][server.url]["keys"][project] = by_hand
    path.write_text(yaml.safe_dump(data))
    done = _login(shared, server, project, emails["admin"])
    assert "revoked" not in done.stderr
    assert _works(server, by_hand)
    assert stored_key(shared.root, server.url, project) != by_hand
