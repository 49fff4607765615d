"""End to end: a release with the installed `promptsync` against a real server (one per module):
production asks for an approval and a clean commit from main, a second admin approves with their
own key, apps fetch the new version, and a rollback puts it back."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.command import run_command
from tests.support.environment import command_env
from tests.support.live import LiveServer, create_account, prompt_source

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
SLUG = "support/greeting"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One `flask run` on a loopback port for the module, over a fresh SQLite file (the release
    rules run on both databases in tests/server; this is the installed command's path)."""
    with LiveServer(tmp_path_factory.mktemp("releases-server")) as live:
        yield live


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Ann", "-c", "user.email=ann@example.com", *args],
                   cwd=root, check=True, capture_output=True, timeout=30)


class Admin:
    """A user of the live server with a session, who can make an admin key for a project."""

    def __init__(self, url: str, email: str) -> None:
        self.web = httpx.Client(base_url=url + "/api/v1", timeout=10)
        self.email = email

    def sign_in(self, signup: bool = True) -> str:
        if signup:
            assert self.web.post("/auth/signup", json={"email": self.email, "password": PASSWORD}
                                 ).status_code == 201
        answer = self.web.post("/auth/login", json={"email": self.email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["csrf_token"])

    def admin_key(self, project: str, csrf: str) -> dict[str, str]:
        answer = self.web.post(f"/projects/{project}/keys", json={"name": "mine", "role": "admin"},
                               headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 201, answer.text
        return {"X-API-Key": answer.json()["key"]}


def test_production_needs_another_admin_and_a_clean_commit(server: LiveServer,
                                                           tmp_path: Path) -> None:
    project = f"rel-{uuid.uuid4().hex[:8]}"
    ann_email, bob_email = (f"{n}-{uuid.uuid4().hex[:6]}@example.com" for n in ("ann", "bob"))
    create_account(server.url, ann_email, PASSWORD, project)
    ann = Admin(server.url, ann_email)
    ann_key = ann.admin_key(project, ann.sign_in(signup=False))
    root = tmp_path / "work"
    root.mkdir()
    env = command_env(tmp_path / "xdg", PROMPTSYNC_API_KEY=ann_key["X-API-Key"])

    def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = run_command(root, env, *args)
        assert (done.returncode == 0) == ok, (args, done.stdout, done.stderr)
        return done

    cli("init", "--server", server.url, "--project", project)
    git(root, "init", "-q", "-b", "main")
    greeting = root / "prompts/support/greeting.yaml"
    greeting.parent.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(("Hello {{ name }}.", "Hi {{ name }}!"), start=1):
        greeting.write_text(prompt_source(text))
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"greeting {n}")
        assert f"{SLUG}: pushed v{n}" in cli("push", "-m", f"v{n}").stderr
    cli("label", SLUG, "production", "1")
    settings = ann.web.put(f"/projects/{project}/settings", headers=ann_key, json={
        "approvals_required": 1, "protected_requires_clean_commit": True,
        "protected_branches": ["main"]})
    assert settings.status_code == 200, settings.text

    # A version pushed from an uncommitted edit may not go to production.
    greeting.write_text(prompt_source("Hey {{ name }}?"))
    assert f"{SLUG}: pushed v3" in cli("push").stderr
    dirty = cli("label", SLUG, "production", "3", ok=False)
    assert dirty.returncode == 1 and "committed, unmodified file" in dirty.stderr

    asked = cli("label", SLUG, "production", "2")
    assert "request #1 waits for another admin's approval" in asked.stderr
    assert cli("approve", "1", ok=False).returncode == 1  # not by its requester
    bob = Admin(server.url, bob_email)
    bob.sign_in()
    invited = ann.web.put(f"/projects/{project}/members/{bob_email}", json={"role": "admin"},
                          headers=ann_key)
    assert invited.status_code == 202, invited.text
    bob_csrf = bob.sign_in(signup=False)
    joined = bob.web.post(f"/invitations/{invited.json()['invitation']['id']}/accept",
                          headers={"X-CSRF-Token": bob_csrf})
    assert joined.status_code == 200, joined.text
    bob_key = bob.admin_key(project, bob_csrf)
    approved = bob.web.post(f"/projects/{project}/promotions/1/approve", headers=bob_key)
    assert approved.status_code == 200 and approved.json()["request"]["state"] == "approved"

    def production() -> int:
        answer = httpx.get(f"{server.url}/api/v1/prompts/{SLUG}", params={"label": "production"},
                           headers=ann_key, timeout=10)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["version"])

    assert production() == 2
    history = cli("labels", SLUG).stdout.splitlines()
    assert "v1 -> v2" in history[0] and bob_email in history[0] and "promotion #1" in history[0]
    rolled = cli("rollback", SLUG)
    assert "request #2 waits for another admin's approval" in rolled.stderr
    assert production() == 2
    assert "#2" in cli("promotions").stdout
    assert bob.web.post(f"/projects/{project}/promotions/2/approve",
                        headers=bob_key).status_code == 200
    assert production() == 1
    for client in (ann, bob):
        client.web.close()
