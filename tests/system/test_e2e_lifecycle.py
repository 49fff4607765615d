"""End to end: deleting, renaming and archiving prompts with the installed `promptsync` command
against one real server process (SQLite) for the module; `watch` with its real observer."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.command import Background, run_command
from tests.support.editors import jetbrains
from tests.support.environment import command_env
from tests.support.live import LiveServer, create_account, prompt_source, write_files
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
OLD = prompt_source("Goodbye {{ name }}.")
KEEP = prompt_source("Hello {{ name }}.")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: each test has a project of its own."""
    with LiveServer(tmp_path_factory.mktemp("lifecycle-server")) as live:
        yield live


class Checkout:
    """A prompt repository signed in to its own project, the command run in it."""

    def __init__(self, root: Path, server: LiveServer) -> None:
        self.root = root
        self.server = server
        self.project = f"life-{uuid.uuid4().hex[:8]}"
        email = f"{self.project}@example.com"
        create_account(server.url, email, PASSWORD, self.project)
        root.mkdir(parents=True)
        self.env = command_env(root.parent / "xdg")
        self.run("init", "--server", server.url, "--project", self.project)
        self.run("login", "--email", email, "--password-stdin", input=PASSWORD + "\n")
        creds = yaml.safe_load((root.parent / "xdg/promptsync/credentials.yaml").read_text())
        (entry,) = creds["servers"].values()
        self.api = httpx.Client(  # the same admin key, for what a colleague or an app does
            base_url=f"{server.url}/api/v1/projects/{self.project}",
            headers={"X-API-Key": str(next(iter(entry["keys"].values())))}, timeout=10)

    @property
    def prompts(self) -> Path:
        return self.root / "prompts"

    def file(self, slug: str) -> Path:
        return self.prompts / f"{slug}.yaml"

    def run(self, *args: str, input: str | None = None, code: int = 0
            ) -> subprocess.CompletedProcess[str]:
        done = run_command(self.root, self.env, *args, input=input)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    def latest(self, slug: str) -> int:
        """The status code of fetching the prompt's latest version, as an app would."""
        return self.api.get(f"/prompts/{slug}").status_code

    def listed(self) -> list[str]:
        return [p["slug"] for p in self.api.get("/prompts").json()["prompts"]]


@pytest.fixture
def repo(tmp_path: Path, server: LiveServer) -> Iterator[Checkout]:
    checkout = Checkout(tmp_path / "work", server)
    write_files(checkout.prompts, {"support/old.yaml": OLD, "support/keep.yaml": KEEP})
    checkout.run("push", "-m", "first")
    yield checkout
    checkout.api.close()


def test_a_deleted_file_is_archived_by_push_and_status_is_clean_after(repo: Checkout) -> None:
    repo.file("support/old").unlink()
    status = repo.run("status", "--exit-code", code=1)
    assert status.stdout.startswith("deleted   support/old")
    assert "push archives v1 on the server" in status.stdout
    dry = repo.run("push", "--dry-run")
    assert dry.stdout == "would archive support/old (v1: prompts/support/old.yaml was deleted)\n"
    assert repo.latest("support/old") == 200  # a dry run changes nothing
    pushed = repo.run("push")
    assert pushed.stderr == "support/old: archived\n"
    assert repo.latest("support/old") == 410
    assert repo.api.get("/prompts/support/old", params={"version": 1}).json()["source"] == OLD
    assert repo.listed() == ["support/keep"]
    # The original bug: after a deletion, status --exit-code failed for good.
    assert repo.run("status", "--exit-code").stdout == ""
    assert repo.run("push").stderr == "nothing to push: everything is in sync\n"
    # The file put back (git checkout): push restores the prompt with its next version.
    write_files(repo.prompts, {"support/old.yaml": OLD})
    assert "push restores it" in repo.run("status").stdout
    assert repo.run("push").stderr == "support/old: pushed v2\n"
    assert repo.latest("support/old") == 200
    assert repo.run("status", "--exit-code").stdout == ""


def test_pull_removes_the_unchanged_file_of_an_archived_prompt_and_keeps_an_edited_one(
    repo: Checkout
) -> None:
    for slug in ("support/old", "support/keep"):
        assert repo.api.delete(f"/prompts/{slug}").status_code == 204  # archived by a colleague
    edited = KEEP + "# mine\n"
    repo.file("support/keep").write_text(edited)
    status = repo.run("status", "--exit-code", code=1).stdout.splitlines()
    assert status[0].startswith("conflict  support/keep")
    assert "archived on the server" in status[0]
    assert status[1].startswith("archived  support/old")
    assert status[1].endswith("archived on the server, pull removes the file")
    pulled = repo.run("pull", code=1)
    assert "support/old: archived on the server, removed prompts/support/old.yaml" in (
        pulled.stderr)
    assert ("refused: support/keep: archived on the server, and the file has changes since "
            "v1: promptsync push --force restores the prompt with your file") in pulled.stderr
    assert not repo.file("support/old").exists()
    assert repo.file("support/keep").read_text() == edited
    after = repo.run("status", "--exit-code", code=1).stdout
    assert after.startswith("conflict  support/keep") and "support/old" not in after
    # Keeping the edit: push --force restores the prompt with it.
    assert repo.run("push", "--force").stderr == "support/keep: pushed v2\n"
    assert repo.run("status", "--exit-code").stdout == ""


def test_a_rename_in_one_push_is_one_version_with_renamed_from(repo: Checkout) -> None:
    os.rename(repo.file("support/old"), repo.prompts / "support/farewell.yaml")
    status = repo.run("status").stdout
    assert status.startswith("renamed   support/farewell")
    assert "renamed from support/old (v1)" in status and "deleted" not in status
    dry = repo.run("push", "--dry-run").stdout
    assert dry == ("would push support/farewell (prompts/support/farewell.yaml), "
                   "renamed from support/old\n")
    assert repo.run("push", "-m", "better name").stderr == (
        "support/farewell: pushed v1, renamed from support/old\n")
    (line,) = repo.run("log", "support/farewell").stdout.splitlines()
    assert line.startswith("v1") and "(renamed from support/old@v1) better name" in line
    assert repo.latest("support/old") == 410
    assert repo.listed() == ["support/farewell", "support/keep"]
    assert repo.run("status", "--exit-code").stdout == ""


def test_archives_under_a_protected_label_or_a_moved_server_are_refused(repo: Checkout) -> None:
    repo.run("label", "support/old", "production", "1")
    moved = repo.api.post("/prompts/support/keep", json={"source": KEEP + "# theirs\n"})
    assert moved.status_code == 201
    repo.file("support/old").unlink()
    repo.file("support/keep").unlink()
    refused = repo.run("push", code=1)
    lines = refused.stderr.splitlines()
    assert lines[0] == ("rejected: support/keep was deleted here but is at v2 on the server "
                        "(you had v1): promptsync pull --force brings the file back, "
                        "promptsync push --force archives the prompt anyway")
    assert lines[1].startswith("refused: support/old: not archived: ")
    assert lines[1].endswith("a protected label points at it: an admin moves or removes that "
                             "label (or archives it with force in the admin), then push again; "
                             "or restore the file")
    assert lines[2:] == ["2 files not pushed"]
    assert repo.latest("support/old") == 200 and repo.latest("support/keep") == 200
    # With the label gone (and --force for the one that moved on), both are archived.
    assert repo.api.delete("/prompts/support/old/-/labels/production").status_code in (200, 204)
    forced = repo.run("push", "--force")
    assert sorted(forced.stderr.splitlines()) == ["support/keep: archived",
                                                  "support/old: archived"]
    assert repo.listed() == []


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=30)


def test_watch_archives_an_rm_and_renames_a_git_mv_but_not_an_editor_save(
    repo: Checkout
) -> None:
    write_files(repo.prompts, {"gone.yaml": prompt_source("Soon gone {{ name }}.")})
    repo.run("push")
    repo.file("gone").unlink()  # deleted while watch is not running
    git(repo.root, "init", "-q")
    git(repo.root, "add", "prompts")
    git(repo.root, "commit", "-q", "-m", "prompts")
    watch = Background(repo.root, repo.env, "watch", "--poll-interval", "0.5")
    try:
        watch.wait_for_line("watching ", 30)
        # Its start-up rescan finds it missing and archives it once the grace period is over.
        watch.wait_for_line("gone: archived", 10)
        # An editor's safe write: the file is gone for a moment, then back with new bytes.
        jetbrains(repo.file("support/keep"), KEEP + "# edited\n")
        watch.wait_for_line("support/keep: pushed v2", 10)
        git(repo.root, "mv", "prompts/support/old.yaml", "prompts/support/bye.yaml")
        watch.wait_for_line("support/bye: pushed v1, renamed from support/old", 10)
        wait_until(lambda: repo.latest("support/old") == 410, 5, "support/old archived")
        repo.file("support/keep").unlink()
        watch.wait_for_line("support/keep: archived", 10)
        assert repo.latest("support/keep") == 410
    finally:
        code = watch.end()
    assert code == 130, watch.lines  # Ctrl-C
    said = [line for line in watch.lines if line.startswith(("support/", "gone"))]
    assert said == ["gone: archived", "support/keep: pushed v2",
                    "support/bye: pushed v1, renamed from support/old", "support/keep: archived"]
    assert "renamed from support/old@v1" in repo.run("log", "support/bye").stdout
    assert repo.listed() == ["support/bye"]
    assert repo.run("status", "--exit-code").stdout == ""
