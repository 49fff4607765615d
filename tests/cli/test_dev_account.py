"""`promptsync dev` as a newcomer meets it (issue 16): where its account is and how to log in, a
new key after the old one was revoked, one dev per repository, Ctrl-C under `make dev` ending in
one line, and a crashed dev server's traceback printed as lines. Real processes on loopback."""

from __future__ import annotations

import html
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from promptsync.cli.dev import _account_lines
from promptsync.dev.lock import DevLock
from promptsync.dev.stack import ACCOUNT_FILE, Bootstrapped, DevAccount
from promptsync.errors import ConfigError
from tests.support.command import Background, run_command
from tests.support.environment import command_env
from tests.support.live import REPO_ROOT, free_port, write_files

# The dev server inherits the environment: bcrypt at its lowest cost, as every test server has.
FAST_SERVER = {"PYTHONUNBUFFERED": "1", "BCRYPT_ROUNDS": "4"}
GREETING = "variables:\n  name: {required: true}\ntemplate: |\n  Hello {{ name }}.\n"
VENV = Path(sys.executable).parent.parent


class MakeDev:
    """`make dev` of this checkout's Makefile in ``root``, on a terminal (a pty) as a person runs
    it, with this virtualenv (its install stamp taken as done); everything it printed."""

    def __init__(self, root: Path, env: dict[str, str], port: int) -> None:
        self.output = b""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: make, in its own session, the terminal's foreground
            os.chdir(root)
            os.execvpe("make", ["make", "-s", "-f", str(REPO_ROOT / "Makefile"),
                                f"VENV={VENV}", "-o", f"{VENV}/.installed", "dev"],
                       {**env, "PROMPTSYNC_DEV_PORT": str(port)})

    def read_until(self, text: bytes, timeout: float) -> bool:
        """Read what it prints until ``text`` shows up (True) or it ends or time runs out."""
        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the terminal closed: everything has exited
                    return text in self.output
                if not chunk:
                    break
                self.output += chunk
        return text in self.output

    def ctrl_c(self) -> int:
        """Type Ctrl-C on its terminal (SIGINT to make, the shell and dev alike); its status."""
        os.write(self.fd, b"\x03")
        self.read_until(b"\0", 30)  # to the end
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def interrupt_dev(self, root: Path) -> int:
        """SIGINT to dev alone (``kill -INT <pid>`` from another terminal); make's status."""
        pid = json.loads((root / ".promptsync" / "dev.lock").read_text())["pid"]
        os.kill(pid, signal.SIGINT)
        self.read_until(b"\0", 30)  # to the end
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def lines(self) -> list[str]:
        return self.output.decode(errors="replace").replace("\r\n", "\n").split("\n")


DEV_WARNING = ("promptsync dev and watch on this machine use this key: revoking it stops them "
               "until promptsync dev, started again, makes a new one.")


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _admin(port: int, account: dict[str, str]) -> httpx.Client:
    """A browser's session in the dev server's admin, logged in as dev's account."""
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}/admin", timeout=10)
    form = {"email": account["email"], "password": account["password"],
            "csrf_token": _csrf(web.get("/login"))}
    assert web.post("/login", data=form).status_code == 302
    return web


def _dev_key_row(web: httpx.Client, key: str) -> tuple[str, str]:
    """The revoke URL and the question of the key dev uses, as its keys page shows them."""
    page = web.get("/p/demo/keys")
    assert page.status_code == 200, page.status_code  # still logged in
    found = re.search(r'action="/admin(/p/demo/keys/\d+/revoke)" class="inline" '
                      r'data-confirm="([^"]*)"', page.text.split(key[:12] + "</td>")[1])
    assert found and page.text.count("used by promptsync dev and watch here") == 1, page.text
    return found[1], html.unescape(found[2])


@pytest.mark.slow
def test_dev_says_where_its_account_is_makes_a_new_key_and_runs_once(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_files(root / "prompts", {"support/greeting.yaml": GREETING})
    env = command_env(tmp_path / "xdg", **FAST_SERVER)
    port = free_port()
    first = Background(root, env, "dev", "--port", str(port))
    try:
        lines = first.wait_for_line("watching", 30, or_exit=True)
        assert lines[-1].startswith("watching"), lines
        assert any(line.startswith("created a local account (shown once): ") for line in lines)
        assert (f"  the key is kept for the CLI in .promptsync/dev-api-key; the account in "
                f".promptsync/{ACCOUNT_FILE}") in lines, lines
        assert not (tmp_path / "xdg").exists()  # nothing in the user's credentials file
        # A second dev in the same repository, on another port: told about the first, by pid.
        second = run_command(root, env, "dev", "--port", str(free_port()))
        assert second.returncode == 1
        assert second.stderr == (
            f"error: promptsync dev is already running in this repository (pid "
            f"{first.process.pid} on http://127.0.0.1:{port}): use that one, or stop it "
            f"(Ctrl-C in its terminal, or kill {first.process.pid})\n")
        account = json.loads((root / ".promptsync" / ACCOUNT_FILE).read_text())
        # From the admin's API keys page, which says what revoking this one does.
        admin = _admin(port, account)
        revoke, question = _dev_key_row(admin, account["key"])
        assert question == (f"Revoke key 'promptsync dev' ({account['key'][:12]})? "
                            f"{DEV_WARNING}")
        assert admin.post(revoke, data={"csrf_token": _csrf(admin.get("/p/demo/keys"))}
                          ).status_code == 302
        # The running dev says what to do about it (not `promptsync login`).
        write_files(root / "prompts", {"support/greeting.yaml": GREETING + "# two\n"})
        refused = first.wait_for_line("error: the server refused the API key", 30)[-1]
        assert refused == ("error: the server refused the API key (The API key has been "
                           "revoked): stop promptsync dev and start it again: it makes a new "
                           "key, then pushes what is queued (1 change queued, retrying)"), refused
    finally:
        assert first.end(signal.SIGINT) == 130
    # Ctrl-C: one line, "stopped" (no "interrupted" after it), with the save the key could not push.
    assert [line for line in first.lines if line][-1] == (
        "stopped; 1 change queued for the next run"), first.lines

    # Again, as `make dev` in a terminal: the revoked key is replaced, and Ctrl-C ends it with
    # dev's one line and nothing from make.
    again = MakeDev(root, env, port)
    try:
        assert again.read_until(b"watching", 30), again.lines()
        # The new key is the one marked now, and the admin page is still logged in (dev's own
        # session no longer logs out every session of the user).
        new_key = json.loads((root / ".promptsync" / ACCOUNT_FILE).read_text())["key"]
        assert _dev_key_row(admin, new_key)[1].endswith(DEV_WARNING)
    finally:
        admin.close()
        status = again.ctrl_c()
    lines = again.lines()
    assert new_key != account["key"]
    assert f"created a new key (the stored one no longer worked): {new_key}" in lines, lines
    assert not any("created a local account" in line for line in lines)
    assert "support/greeting: pushed v2" in lines, lines  # the save queued under the old key
    login = (f"log in to http://127.0.0.1:{port}/admin as {account['email']} with the password "
             f"in .promptsync/{ACCOUNT_FILE}")
    assert any(line.endswith(login) for line in lines), lines
    after = lines[next(i for i, line in enumerate(lines) if line.startswith("watching")) + 1:]
    assert [line for line in after if line.strip() not in ("", "^C")] == ["stopped"], after
    assert not any(line.startswith("make") for line in lines), lines
    assert status != 0  # make passes the Ctrl-C on (130 or killed by SIGINT), silently


@pytest.mark.slow
def test_make_dev_stopped_by_a_sigint_to_dev_alone_adds_no_make_line(tmp_path: Path) -> None:
    # make and its shell never see this SIGINT: dev's 130 used to come out as
    # "make: *** [Makefile:N: dev] Error 130" under the stopped line.
    root = tmp_path / "repo"
    write_files(root / "prompts", {"support/greeting.yaml": GREETING})
    make = MakeDev(root, command_env(tmp_path / "xdg", **FAST_SERVER), free_port())
    try:
        assert make.read_until(b"watching", 30), make.lines()
    finally:
        status = make.interrupt_dev(root)
    lines = make.lines()
    after = lines[next(i for i, line in enumerate(lines) if line.startswith("watching")) + 1:]
    assert [line for line in after if line.strip()] == ["stopped"], after
    assert status == 0


def test_a_later_run_says_where_the_account_is_and_how_to_log_in(tmp_path: Path) -> None:
    account = DevAccount("dev@promptsync.localhost", "pw", "demo", "psk_x")
    lines = _account_lines(account, Bootstrapped.REUSED, tmp_path / "credentials.json",
                           "http://127.0.0.1:5000", Path(".promptsync"))
    assert lines == ["local account: log in to http://127.0.0.1:5000/admin as "
                     "dev@promptsync.localhost with the password in .promptsync/dev-account.json"]


def test_a_crashed_dev_server_prints_its_traceback_as_lines(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_files(root / "prompts", {"greeting.yaml": GREETING})
    (root / ".promptsync").mkdir()
    (root / ".promptsync" / "dev.db").write_bytes(b"not a database\x1b[2J" * 100)
    env = command_env(tmp_path / "xdg", **FAST_SERVER)
    done = run_command(root, env, "dev", "--port", str(free_port()))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith("error: the dev server exited with status 1; the end of "), lines
    # The end of the log, a traceback, line by line (15 lines, each indented under the error).
    assert len(lines) == 16 and all(line.startswith("  ") for line in lines[1:]), lines
    assert any(line.startswith('    File "') for line in lines), lines
    assert any("DatabaseError" in line for line in lines[-3:]), lines
    assert not any("\\n" in line for line in lines), lines


def test_the_lock_frees_itself_when_its_holder_dies(tmp_path: Path) -> None:
    # flock(2) belongs to the open file: a holder killed outright (no clean-up ran) leaves no
    # stale lock for the next dev to clear.
    code = ("import sys, time; from pathlib import Path; from promptsync.dev.lock import DevLock; "
            "DevLock(Path(sys.argv[1])).acquire('http://127.0.0.1:1'); print('held', flush=True); "
            "time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(ConfigError, match=f"already running in this repository \\(pid "
                                              f"{holder.pid} on http://127.0.0.1:1\\)"):
            DevLock(tmp_path).acquire("http://127.0.0.1:2")
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    lock = DevLock(tmp_path)
    lock.acquire("http://127.0.0.1:2")
    assert json.loads((tmp_path / "dev.lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_a_dev_account_no_longer_in_its_project_is_told_what_to_do(tmp_path: Path) -> None:
    # Removed from the project in the admin (another admin stays), dev's next start said
    # "error: A project 'demo' already exists"; as a viewer it would fail on the admin key.
    from promptsync.dev.stack import bootstrap
    from tests.support.live import LiveServer, create_account, create_key

    with LiveServer(tmp_path / "srv") as server:
        create_account(server.url, "owner@example.com", "correct horse battery", "demo")
        with pytest.raises(ConfigError) as info:
            bootstrap(server.url, "demo", tmp_path / "state")
        message = str(info.value)
        assert "dev@promptsync.localhost is not a member of project 'demo'" in message
        assert "add it back as an admin" in message and "dev.db" in message
        assert create_key(server.url, "owner@example.com", "correct horse battery", "demo")


@pytest.mark.slow
def test_dev_ends_and_says_so_when_its_server_dies(tmp_path: Path) -> None:
    # Killed (the OOM killer, say), the server left dev printing "server unreachable" forever.
    root = tmp_path / "repo"
    write_files(root / "prompts", {"support/greeting.yaml": GREETING})
    dev = Background(root, command_env(tmp_path / "xdg", **FAST_SERVER), "dev", "--port",
                     str(free_port()))
    try:
        dev.wait_for_line("watching", 30, or_exit=True)
        children = Path(f"/proc/{dev.process.pid}/task/{dev.process.pid}/children")
        [server] = children.read_text().split()
        os.kill(int(server), signal.SIGKILL)
        assert dev.process.wait(timeout=20) == 1
    finally:
        dev.kill()
    after = dev.lines[next(i for i, line in enumerate(dev.lines) if line.startswith("watching")):]
    assert ("error: the dev server exited with status -9; the end of "
            f"{root / '.promptsync' / 'dev-server.log'}:") in after, after
    assert "stopped" in after, after
