"""End to end: under "production only from a clean commit of main" (SPEC §11), what `promptsync
watch` pushed before its commit can be promoted once committed: `promptsync label` run in the
checkout reports the file's commit for the version holding its bytes. A dirty file, a file of
other bytes, or a commit on another branch still cannot."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.command import Background, run_command
from tests.support.environment import command_env
from tests.support.live import LiveServer, create_account, create_key, prompt_source

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
SLUG = "support/greeting"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One `flask run` on a loopback port over a fresh SQLite file."""
    with LiveServer(tmp_path_factory.mktemp("watch-release-server")) as live:
        yield live


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Ann", "-c", "user.email=ann@example.com", *args],
                   cwd=root, check=True, capture_output=True, timeout=30)


def test_a_version_watch_pushed_before_its_commit_is_promoted_once_committed(
        server: LiveServer, tmp_path: Path) -> None:
    project = f"wr-{uuid.uuid4().hex[:8]}"
    email = f"ann-{uuid.uuid4().hex[:6]}@example.com"
    create_account(server.url, email, PASSWORD, project)
    key = create_key(server.url, email, PASSWORD, project, role="admin")
    api = httpx.Client(base_url=f"{server.url}/api/v1/projects/{project}",
                       headers={"X-API-Key": key}, timeout=10)
    settings = api.put("/settings", json={"protected_requires_clean_commit": True,
                                          "protected_branches": ["main"]})
    assert settings.status_code == 200, settings.text
    root = tmp_path / "work"
    root.mkdir()
    env = command_env(tmp_path / "xdg", PROMPTSYNC_API_KEY=key)

    def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = run_command(root, env, *args)
        assert (done.returncode == 0) == ok, (args, done.stdout, done.stderr)
        return done

    def production() -> int | None:
        answer = api.get(f"/prompts/{SLUG}/-/labels/production/history")
        assert answer.status_code == 200, answer.text
        moves = answer.json()["moves"]
        return moves[0]["to_version"] if moves else None

    cli("init", "--server", server.url, "--project", project)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "promptsync init")
    greeting = root / "prompts/support/greeting.yaml"
    greeting.parent.mkdir(parents=True, exist_ok=True)
    watch = Background(root, env, "watch", "--poll-interval", "0.3")
    try:
        watch.wait_for_line("watching", 20)
        greeting.write_text(prompt_source("Hello {{ name }}."))  # saved before any commit
        watch.wait_for_line(f"{SLUG}: pushed v1", 20)
    finally:
        assert watch.end() == 130
    pushed_git = api.get(f"/prompts/{SLUG}").json()["git"]
    assert (pushed_git or {}).get("dirty") is not False  # watch: no git, or a dirty file

    # Uncommitted: refused, and the refusal says what works.
    refused = cli("label", SLUG, "production", ok=False)
    assert "committed, unmodified file" in refused.stderr, refused.stderr
    assert f"promptsync label {SLUG} production 1" in refused.stderr, refused.stderr
    assert production() is None

    # Committed on another branch than main: still refused, the branch named.
    git(root, "checkout", "-q", "-b", "feature/x")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "greeting")
    assert "nothing to push" in cli("push").stderr.lower()
    elsewhere = cli("label", SLUG, "production", ok=False)
    assert "came from feature/x" in elsewhere.stderr, elsewhere.stderr
    assert production() is None

    # Merged to main: the label command reports the clean file for v1, and production moves.
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--ff-only", "feature/x")
    moved = cli("label", SLUG, "production")
    assert f"{SLUG}: production -> v1" in moved.stderr, moved.stderr
    assert production() == 1
    # The version itself is as it was pushed: the fetch's git is still the save's.
    assert api.get(f"/prompts/{SLUG}?label=production").json()["git"] == pushed_git

    # A later save pushed by hand before its commit; a file still dirty is refused.
    greeting.write_text(prompt_source("Hi {{ name }}!"))
    assert f"{SLUG}: pushed v2" in cli("push").stderr
    dirty = cli("label", SLUG, "production", "2", ok=False)
    assert "v2 was not" in dirty.stderr, dirty.stderr
    # A file that is not v2's bytes (edited again and committed) cannot vouch for v2.
    greeting.write_text(prompt_source("Hi there {{ name }}!"))
    git(root, "commit", "-q", "-am", "greeting again")
    other = cli("label", SLUG, "production", "2", ok=False)
    assert "not v2's bytes" in other.stderr, other.stderr
    assert production() == 1
    api.close()
