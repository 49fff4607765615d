"""`promptsync dev` and the other commands agree on where the dev server is.

Unit tests for promptsync.dev.config (editing promptsync.yaml in place) and
promptsync.dev.stack.remember_server (the sync state follows the database to a new port); then
the installed command end to end: dev on a port, `status` in another process, a restart on
another port with an edit made while it was down, and the whole stack serving and syncing a copy
of the example prompts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from promptsync.config import read_repo_config
from promptsync.dev.config import default_port, is_local, update_repo_config
from promptsync.dev.stack import DevAccount, load_account, remember_server, save_account
from promptsync.sync.state import Entry, Pending, SyncState
from tests.support.command import Background, run_command
from tests.support.editors import os_replace
from tests.support.environment import command_env
from tests.support.live import REPO_ROOT, free_port, tool
from tests.support.waiting import wait_until

OLD, NEW = "http://127.0.0.1:5000", "http://127.0.0.1:5001"
# The dev server inherits the environment: bcrypt at its lowest cost, as every test server has
# (the dev account's signup and login cost ~0.25 s of CPU each at the production cost of 12).
FAST_SERVER = {"PYTHONUNBUFFERED": "1", "BCRYPT_ROUNDS": "4"}


# --- dev.config: which servers are ours, and the line edit -------------------------------------


@pytest.mark.parametrize(("url", "local"), [
    ("http://127.0.0.1:5000", True), ("http://localhost:8000/", True), ("http://[::1]:5000", True),
    ("http://dev.localhost:5000", True), ("http://127.1.2.3", True),
    ("https://127.0.0.1:5000", False), ("https://prompts.example.com", False),
    ("http://10.0.0.5:5000", False), ("http://localhost.example.com", False), (None, False),
])
def test_is_local(url: str | None, local: bool) -> None:
    assert is_local(url) is local


@pytest.mark.parametrize(("url", "port"), [
    ("http://127.0.0.1:5001", 5001), ("http://localhost:8123/", 8123), ("http://127.0.0.1", 5000),
    ("https://prompts.example.com:5001", 5000), ("http://127.0.0.1:99999", 5000), (None, 5000),
])
def test_default_port_is_the_local_server_in_the_config(url: str | None, port: int) -> None:
    assert default_port(url) == port


def _repo(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "promptsync.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_the_server_line_is_edited_in_place_keeping_comments(tmp_path: Path) -> None:
    path = _repo(tmp_path, "# team settings\n# (commit this file)\nserver: http://127.0.0.1:5000"
                           "   # make dev\nproject: demo  # the project\ndir: prompts\n")
    path.chmod(0o640)
    update_repo_config(read_repo_config(tmp_path), server=NEW)
    assert path.read_text() == ("# team settings\n# (commit this file)\nserver: " + NEW +
                                "  # make dev\nproject: demo  # the project\ndir: prompts\n")
    assert path.stat().st_mode & 0o777 == 0o640


def test_crlf_files_stay_crlf_and_missing_keys_are_added_after_the_header(tmp_path: Path) -> None:
    path = _repo(tmp_path, b"# header\r\n\r\ndir: prompts\r\n")
    update_repo_config(read_repo_config(tmp_path), server=NEW, project="demo")
    assert path.read_bytes() == (b"# header\r\n\r\nproject: demo\r\nserver: " + NEW.encode() +
                                 b"\r\ndir: prompts\r\n")
    repo = read_repo_config(tmp_path)
    assert (repo.server, repo.project) == (NEW, "demo")


@pytest.mark.parametrize("text", [
    "{server: 'http://127.0.0.1:5000', project: demo}\n",   # flow style: no line to edit
    "server: 'http://127.0.0.1:5000'\nproject: demo\n",      # quoted value
    "server: >-\n  http://127.0.0.1:5000\nproject: demo\n",   # folded scalar
    "",                                                        # empty: all defaults
    "# only a comment",                                        # no final newline
])
def test_shapes_a_line_edit_cannot_handle_are_rewritten_whole(tmp_path: Path, text: str) -> None:
    _repo(tmp_path, text)
    before = read_repo_config(tmp_path)
    update_repo_config(before, server=NEW)
    after = read_repo_config(tmp_path)
    assert (after.server, after.project, after.dir) == (NEW, before.project, before.dir)


# --- dev.stack.remember_server: the sync state moves with the database -------------------------


def _state(state_dir: Path, server: str) -> SyncState:
    state = SyncState(state_dir, server, "demo")
    state.entries["a"] = Entry(3, "ab" * 32, "a.yaml")
    state.journal.append(Pending("b", "cd" * 32, 1, None, "b.yaml", source="saved offline\n"))
    state.save()
    return state


def _account(server: str | None) -> DevAccount:
    return DevAccount("dev@promptsync.localhost", "pw", "demo", "psk_00000000_x", server)


def test_a_new_port_carries_the_state_and_is_remembered(tmp_path: Path) -> None:
    saved = _state(tmp_path, OLD)
    account = remember_server(tmp_path, _account(OLD), NEW, "demo", fresh=False)
    moved = SyncState.load(tmp_path, NEW, "demo")
    assert moved.entries == saved.entries and moved.journal == saved.journal
    assert account.server == NEW and load_account(tmp_path) == account


def test_a_fresh_database_or_another_servers_state_is_not_carried(tmp_path: Path) -> None:
    _state(tmp_path, OLD)
    remember_server(tmp_path, _account(OLD), NEW, "demo", fresh=True)
    assert SyncState.load(tmp_path, NEW, "demo").entries == {}
    # The state belongs to a server the dev database was never served on: left alone.
    _state(tmp_path, "https://prompts.example.com")
    remember_server(tmp_path, _account(OLD), NEW, "demo", fresh=False)
    assert SyncState.load(tmp_path, NEW, "demo").entries == {}
    assert SyncState.load(tmp_path, "https://prompts.example.com", "demo").entries


def test_an_account_file_from_before_remembers_no_server(tmp_path: Path) -> None:
    save_account(tmp_path, _account(None))
    assert load_account(tmp_path) == _account(None)
    _state(tmp_path, OLD)
    remember_server(tmp_path, _account(None), NEW, "demo", fresh=False)
    assert SyncState.load(tmp_path, NEW, "demo").entries == {}  # unknown: nothing carried
    assert load_account(tmp_path).server == NEW  # type: ignore[union-attr]


# --- the installed command ---------------------------------------------------------------------


class Dev(Background):
    """`promptsync dev` running in ``root``, its stderr collected line by line."""

    def __init__(self, root: Path, env: dict[str, str], *args: str) -> None:
        super().__init__(root, env, "dev", *args)

    def ready(self) -> list[str]:
        """The lines up to "watching" (the end of the start-up block), or up to its exit."""
        return self.wait_for_line("watching", 30, or_exit=True)

    def stop(self) -> int:
        """Ctrl-C; its exit code."""
        return self.end(signal.SIGINT)


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A copy of this repository's promptsync.yaml (server :5000) and example prompts."""
    root = tmp_path / "clone"
    shutil.copytree(REPO_ROOT / "prompts", root / "prompts")
    shutil.copy(REPO_ROOT / "promptsync.yaml", root / "promptsync.yaml")
    yield root, command_env(tmp_path / "xdg", **FAST_SERVER)


def _status(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_command(root, env, "status")


@pytest.mark.slow
def test_other_commands_follow_dev_to_its_port_and_back(clone: tuple[Path, dict[str, str]]
                                                        ) -> None:
    root, env = clone
    config = root / "promptsync.yaml"
    comment = config.read_text().splitlines()[1]
    first, second = free_port(), free_port()

    dev = Dev(root, env, "--port", str(first))
    try:
        lines = dev.ready()
        assert f"updated promptsync.yaml: server http://127.0.0.1:5000 -> http://127.0.0.1:{first}"\
            in lines
        assert ("  other terminals: status, push, pull, log ... in this repository use this "
                "server (promptsync.yaml names it)") in lines
        assert yaml.safe_load(config.read_text())["server"] == f"http://127.0.0.1:{first}"
        assert config.read_text().splitlines()[1] == comment  # the file's comments are kept
        status = _status(root, env)  # "another terminal"
        assert status.returncode == 0 and status.stderr == "9 in sync\n", status.stderr
    finally:
        assert dev.stop() == 130

    # Found in the repository, dev's key is not stored in the user's credentials file (where
    # each port used to leave an entry behind); entries an older dev left there are removed.
    credentials = root.parent / "xdg/promptsync/credentials.yaml"
    assert not credentials.exists()
    key = (root / ".promptsync/dev-api-key").read_text().strip()
    credentials.parent.mkdir(parents=True)
    credentials.write_text(yaml.safe_dump({"servers": {
        f"http://127.0.0.1:{port}": {"default_project": "demo", "keys": {"demo": key}}
        for port in (5000, first)} | {"https://prompts.example.com": {"api_key": "psk_login"}}}))
    greeting = root / "prompts/support/greeting.yaml"
    greeting.write_text(greeting.read_text() + "# edited while dev was down\n")
    dev = Dev(root, env)  # no --port: the one in promptsync.yaml
    try:
        lines = dev.ready()
        assert (f"removed 2 entries of the dev key from {credentials}: it is kept in "
                ".promptsync/dev-api-key, where commands in this repository find it") in lines
        assert yaml.safe_load(credentials.read_text()) == {
            "servers": {"https://prompts.example.com": {"api_key": "psk_login"}}}
        assert any(line.startswith("ready in") and f"127.0.0.1:{first}/api/v1" in line
                   for line in lines), lines
        assert not any(line.startswith("updated") for line in lines)
        assert "support/greeting: pushed v2" in lines
    finally:
        assert dev.stop() == 130

    greeting.write_text(greeting.read_text() + "# and again\n")
    dev = Dev(root, env, "--port", str(second))
    try:
        lines = dev.ready()
        # Same database, new port: the sync state moved with it, so the edit is a plain v3,
        # not a conflict with a version this checkout "never synced".
        assert "support/greeting: pushed v3" in lines, lines
        status = _status(root, env)
        assert status.returncode == 0 and status.stderr == "9 in sync\n", status.stderr
    finally:
        assert dev.stop() == 130
    assert yaml.safe_load(config.read_text())["server"] == f"http://127.0.0.1:{second}"
    assert yaml.safe_load(credentials.read_text()) == {
        "servers": {"https://prompts.example.com": {"api_key": "psk_login"}}}


@pytest.mark.slow
def test_a_busy_port_changes_nothing(clone: tuple[Path, dict[str, str]]) -> None:
    root, env = clone
    before = (root / "promptsync.yaml").read_bytes()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([tool("promptsync"), "dev", "--port", str(port)], cwd=root, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == (f"error: port {port} is in use: stop what uses it, or run "
                           f"promptsync dev --port {port + 1}\n")
    assert (root / "promptsync.yaml").read_bytes() == before


@pytest.mark.slow
def test_a_remote_server_in_the_config_is_left_alone(clone: tuple[Path, dict[str, str]]) -> None:
    root, env = clone
    config = root / "promptsync.yaml"
    config.write_text("server: https://prompts.example.com\nproject: demo\n")
    port = free_port()
    dev = Dev(root, env, "--port", str(port))
    try:
        lines = dev.ready()
        url = f"http://127.0.0.1:{port}"
        assert (f"  other terminals: promptsync.yaml names https://prompts.example.com (left as "
                f"it is); reach this server with PROMPTSYNC_SERVER={url} or --server {url}"
                ) in lines
        assert config.read_text() == "server: https://prompts.example.com\nproject: demo\n"
        status = _status(root, {**env, "PROMPTSYNC_SERVER": url})
        assert status.returncode == 0 and status.stderr == "9 in sync\n", status.stderr
    finally:
        assert dev.stop() == 130


# --- the whole stack on the example prompts, and the dev server alone -----------------------------


def _processes_with(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.slow
def test_dev_runs_the_stack_on_a_copy_of_the_examples(tmp_path: Path) -> None:
    root = tmp_path / "clone"
    shutil.copytree(REPO_ROOT / "prompts", root / "prompts")
    port = free_port()
    env = command_env(tmp_path / "xdg", **FAST_SERVER)
    started = time.monotonic()
    dev = Dev(root, env, "--port", str(port))
    lines = dev.lines
    try:
        # "watching" is the last line of the start-up block ("ready in", curl, ...): waiting for
        # "ready in" alone raced the reader thread for the lines after it.
        dev.wait_for_line("watching", 30)
        assert any(line.startswith("ready in") for line in lines), lines
        assert time.monotonic() - started < 30
        curl = next(line for line in lines if line.strip().startswith("curl"))
        assert "support/greeting?version=1" in curl
        key = (root / ".promptsync" / "dev-api-key").read_text().strip()
        base = f"http://127.0.0.1:{port}/api/v1/projects/demo/prompts/support/greeting"
        with httpx.Client(headers={"X-API-Key": key}, timeout=10) as web:
            got = web.get(base, params={"version": 1})
            assert got.status_code == 200, got.text
            path = root / "prompts" / "support" / "greeting.yaml"
            assert got.json()["source"] == path.read_text()
            edited = path.read_text().replace("Hello", "Hi")
            os_replace(path, edited)
            wait_until(lambda: web.get(base).json()["version"] == 2, 5, "the save as v2")
            assert web.get(base).json()["source"] == edited
        config = (root / "promptsync.yaml").read_text()
        assert f"server: http://127.0.0.1:{port}" in config and "project: demo" in config
        assert any(line.startswith("created a local account") for line in lines)
        assert dev.end() in (0, 130)
    finally:
        dev.kill()
    wait_until(lambda: not _processes_with(f"webapi.devserver --host 127.0.0.1 --port {port}"),
               10, "the dev server to exit")


def test_webapi_devserver_reports_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
               "PROMPTSYNC_ENV": "development"}
        done = subprocess.run([sys.executable, "-m", "webapi.devserver", "--port", str(port)],
                              env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
