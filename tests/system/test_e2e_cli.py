"""End to end: the installed `promptsync` command against a real server on SQLite and Postgres."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.command import run_command
from tests.support.environment import command_env
from tests.support.live import REPO_ROOT, LiveServer, create_account, tool, write_files

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


class Repo:
    """A prompt repository and the `promptsync` command run in it with a private config home."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = command_env(root.parent / "xdg")

    def run(self, *args: str, input: str | None = None, ok: bool = True
            ) -> subprocess.CompletedProcess[str]:
        done = run_command(self.root, self.env, *args, input=input)
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    @property
    def prompts(self) -> Path:
        return self.root / "prompts"


def stored_key(repo: Repo) -> str:
    data = yaml.safe_load((repo.root.parent / "xdg/promptsync/credentials.yaml").read_text())
    (entry,) = data["servers"].values()
    return str(next(iter(entry["keys"].values())))


def test_the_whole_workflow(server: LiveServer, tmp_path: Path) -> None:
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    project = f"e2e-{uuid.uuid4().hex[:8]}"
    create_account(server.url, email, PASSWORD, project)
    repo = Repo(tmp_path / "work")
    repo.run("init", "--server", server.url, "--project", project)
    assert ".promptsync/" in (repo.root / ".gitignore").read_text()
    login = repo.run("login", "--email", email, "--password-stdin", input=PASSWORD + "\n")
    assert "admin key psk_" in login.stderr
    cred = repo.root.parent / "xdg/promptsync/credentials.yaml"
    assert cred.stat().st_mode & 0o777 == 0o600

    shutil.copytree(REPO_ROOT / "prompts", repo.prompts, dirs_exist_ok=True)
    files = sorted(p for p in repo.prompts.rglob("*") if p.suffix in (".yaml", ".yml"))
    pushed = repo.run("push", "-m", "initial import")
    assert pushed.stderr.count(": pushed v1") == len(files)
    assert repo.run("status", "--exit-code").stdout == ""

    greeting = repo.prompts / "support/greeting.yaml"
    original = greeting.read_bytes()
    greeting.write_text(greeting.read_text().replace("Hello", "Hi"))
    assert repo.run("status").stdout.startswith("modified  support/greeting")
    assert repo.run("status", "--exit-code", ok=False).returncode == 1
    assert "support/greeting: pushed v2" in repo.run("push", "-m", "friendlier").stderr

    log = repo.run("log", "support/greeting").stdout.splitlines()
    assert log[0].startswith("v2") and "friendlier" in log[0] and email in log[0]
    assert log[1].startswith("v1") and "initial import" in log[1]
    diff = repo.run("diff", "support/greeting", "1", "2").stdout
    assert "-  Hello {{ name }}" in diff and "+  Hi {{ name }}" in diff
    assert repo.run("diff", "support/greeting").stdout == ""  # latest equals the file
    repo.run("label", "support/greeting", "production", "1")
    got = subprocess.run([tool("promptsync"), "get", "support/greeting", "--label", "production"],
                         cwd=repo.root, env=repo.env, capture_output=True, timeout=60)
    assert got.returncode == 0 and got.stdout == original  # byte for byte
    rendered = repo.run("render", "support/greeting", "-v", "topic=billing", "-v", "name=Ann")
    assert rendered.stdout == "Hi Ann, thanks for asking about billing.\n"

    # A change made on the server (the admin UI, a colleague) reaches the file through pull.
    api = httpx.Client(base_url=server.url + "/api/v1", headers={"X-API-Key": stored_key(repo)})
    theirs = original.decode().replace("Hello", "Welcome")
    response = api.post(f"/projects/{project}/prompts/support/greeting",
                        json={"source": theirs, "parent_version": 2})
    assert response.status_code == 201, response.text
    assert repo.run("status").stdout.startswith("behind    support/greeting")
    assert "pulled v3" in repo.run("pull").stderr
    assert greeting.read_text() == theirs

    # Both sides change: push is refused with advice, --force overwrites.
    api.post(f"/projects/{project}/prompts/support/greeting",
             json={"source": theirs + "# server\n"}).raise_for_status()
    greeting.write_text(theirs + "# mine\n")
    assert repo.run("status").stdout.startswith("conflict  support/greeting")
    refused = repo.run("push", ok=False)
    assert refused.returncode == 1
    assert ("rejected: support/greeting is at v4 on the server, your file is based on v3: "
            "promptsync pull --force takes the server's, promptsync push --force keeps yours"
            ) in refused.stderr
    assert "pushed v5" in repo.run("push", "--force").stderr
    assert repo.run("status", "--exit-code").stdout == ""
    api.close()

    # The server goes away: tried again three times (0.25, 0.5, 1 s apart, each said on a
    # line), then one line of error, exit 1.
    server.stop()
    down = repo.run("status", ok=False)
    assert down.returncode == 1
    *retries, error = down.stderr.splitlines()
    assert [line.rsplit(" s (", 1)[0].rsplit(" ", 1)[1] for line in retries] == [
        "0.25", "0.5", "1"], down.stderr
    assert error == (f"error: cannot reach {server.url} (connection refused after 4 attempts): "
                     "is the server running?")


def test_lint_needs_no_server(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "work")
    repo.run("init", "--server", "http://127.0.0.1:9", "--project", "x")
    write_files(repo.prompts, {"a.yaml": "template: hi {{ x }}\nvariables: {}\n"})
    done = repo.run("lint", ok=False)
    assert done.returncode == 1
    assert done.stdout.startswith("prompts/a.yaml:1:")
    assert subprocess.run([tool("python"), "-m", "promptsync", "--help"], capture_output=True,
                          timeout=60).returncode == 0
