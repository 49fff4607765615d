"""Test helpers: a real API server in a subprocess on a free loopback port, and prompt repos."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import suppress
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tests.support.app import migrate as migrate_in_process

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
START_DEADLINE = 30.0
STOP_DEADLINE = 5.0  # per signal: SIGTERM, then SIGKILL


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tool(name: str) -> str:
    """The path of a console script installed beside this Python (the venv's bin)."""
    candidate = VENV_BIN / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed beside {sys.executable}")
    return found


class LiveServer:
    """``flask --app webapi run`` on a free port with its own database; a context manager.

    SQLite by default (a file in ``workdir``, migrated first); pass ``database_url`` for
    Postgres. ``url`` is ready when ``start()`` returns: /healthz answered within the deadline.
    Subclasses serve it another way by giving their own ``command`` and ``ready``.
    """

    name = "server"
    term_deadline = STOP_DEADLINE  # s stop() gives SIGTERM before it sends SIGKILL

    def __init__(self, workdir: Path, database_url: str | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{self.workdir / 'server.db'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / "server.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "PROMPTSYNC_ENV": "development",  # no SECRET_KEY needed; cookies over plain http
            "BCRYPT_ROUNDS": "4",
            "FLASK_DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> None:
        """Create or upgrade the schema with the packaged migrations: `flask db upgrade`, or, for
        a SQLite file not made yet, a copy of one this process migrated (same migrations, no
        ~0.6 s CPU subprocess per server)."""
        path = self.database_url.removeprefix("sqlite:///")
        if path != self.database_url and path.startswith("/") and not Path(path).exists():
            shutil.copyfile(_migrated_sqlite(), path)
            return
        subprocess.run(
            [tool("flask"), "--app", "webapi", "db", "upgrade"],
            cwd=self.workdir, env=self.env, check=True, capture_output=True, timeout=120,
        )

    def command(self) -> list[str]:
        """The command line that serves the app on ``port``."""
        return [tool("flask"), "--app", "webapi", "run", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-reload"]

    def ready(self) -> bool:
        """Whether the server answers now (raises httpx.HTTPError while it does not listen)."""
        return httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200

    def start(self, migrate: bool = True) -> Self:
        """Start the server and wait until it is ready; raise with its log otherwise."""
        if migrate:
            self.migrate()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(), cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it and any children
        )
        log.close()
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: "
                                   f"{self.log()}")
            try:
                if self.ready():
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {START_DEADLINE} s: {self.log()}")

    def stop(self) -> None:
        """Stop the server and every process of its group (SIGTERM, then SIGKILL after
        ``term_deadline``, 5 s).

        Returns once no process of the group is left, zombies included: waiting on the master
        alone let a worker outlive it (one the master had not reaped yet, or every worker when
        the master was already gone, e.g. killed by the test).
        """
        process, self.process = self.process, None
        if process is None:
            return
        if not end_group(process, signal.SIGTERM, self.term_deadline):
            if not end_group(process, signal.SIGKILL, STOP_DEADLINE):
                raise RuntimeError(f"{self.name} (process group {process.pid}) survived SIGKILL")

    def log(self) -> str:
        """The server's output so far (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is left (a zombie not yet reaped counts)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def end_group(process: subprocess.Popen[bytes], signum: int, timeout: float) -> bool:
    """Send ``signum`` to the group ``process`` leads; whether the group is gone by ``timeout``."""
    with suppress(ProcessLookupError):  # every process of it has ended already
        os.killpg(process.pid, signum)
    deadline = time.monotonic() + timeout
    while True:
        process.poll()  # reaps the leader (its workers are reaped by it, or by init once orphans)
        if not group_alive(process.pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


@cache
def _migrated_sqlite() -> Path:
    """A SQLite database migrated to the head, made once per process and removed at its exit."""
    folder = tempfile.mkdtemp(prefix="promptsync-migrated-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "migrated.db"
    migrate_in_process(f"sqlite:///{path}")
    return path


def create_account(url: str, email: str, password: str, project: str) -> None:
    """Sign up ``email`` on a live server and create ``project`` (the user becomes its admin)."""
    with httpx.Client(base_url=url + "/api/v1", timeout=10) as web:
        response = web.post("/auth/signup", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        response = web.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        csrf = response.json()["csrf_token"]
        response = web.post("/projects", json={"slug": project, "name": project.title()},
                            headers={"X-CSRF-Token": csrf})
        assert response.status_code == 201, response.text


def create_key(url: str, email: str, password: str, project: str, role: str = "editor") -> str:
    """A new API key of ``role`` in ``project``, made by the signed-up ``email``; the key."""
    with httpx.Client(base_url=url + "/api/v1", timeout=10) as web:
        response = web.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        response = web.post(f"/projects/{project}/keys", json={"name": role, "role": role},
                            headers={"X-CSRF-Token": response.json()["csrf_token"]})
        assert response.status_code == 201, response.text
        return str(response.json()["key"])


def key_client(url: str, key: str) -> httpx.Client:
    """A client of url's /api/v1 with an API key, a new connection per request: a test's pusher
    may sit idle past gunicorn's keep-alive (2 s), and a request sent on the connection the
    server is closing fails with 'Server disconnected' (seen in CI after a 2 s idle window)."""
    return httpx.Client(base_url=url + "/api/v1", timeout=10, headers={"X-API-Key": key},
                        limits=httpx.Limits(max_keepalive_connections=0))


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``{relative path: content}`` under ``root``, creating folders."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)


def make_prompt_repo(root: Path, server: str, project: str,
                     files: Mapping[str, str | bytes] | None = None) -> Path:
    """A repository with promptsync.yaml and a prompts/ dir holding ``files``; returns prompts/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "promptsync.yaml").write_text(
        f"server: {server}\nproject: {project}\ndir: prompts\n", encoding="utf-8"
    )
    prompts = root / "prompts"
    prompts.mkdir(exist_ok=True)
    write_files(prompts, files or {})
    return prompts


def prompt_source(text: str = "Hello {{ name }}.", **fields: str) -> str:
    """A small valid prompt file with one required variable ``name``."""
    extra = "".join(f"{key}: {value}\n" for key, value in fields.items())
    return f"{extra}variables:\n  name: {{required: true}}\ntemplate: |\n  {text}\n"
