"""`promptsync dev`'s server: the API on SQLite in `.promptsync/`, run as a child process.

The server is `python -m webapi.devserver` (the CLI never imports Flask): database
`.promptsync/dev.db`, a SECRET_KEY generated once into `.promptsync/dev-secret-key` (admin
sessions survive restarts), development mode (cookies over plain http), its log in
`.promptsync/dev-server.log`. The local account it serves is dev/account.py's; the names that
module (and dev/files.py) defines are importable from here too, as they were before the split.

Other commands find the dev server through `server` in promptsync.yaml (see dev/config.py).
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from promptsync.dev.account import (
    DEFAULT_PROJECT,
    DEV_EMAIL,
    Bootstrapped,
    DevAccount,
    bootstrap,
    forget_synced,
    load_account,
    remember_server,
    save_account,
)
from promptsync.dev.files import (
    ACCOUNT_FILE,
    DEV_DB,
    KEY_FILE,
    LOG_FILE,
    PRIVATE,
    SECRET_FILE,
    read_private,
)
from promptsync.errors import ConfigError
from promptsync.fsutil import atomic_write
from promptsync.sync.state import ensure_state_dir

__all__ = [
    "ACCOUNT_FILE",
    "DEFAULT_PROJECT",
    "DEV_DB",
    "DEV_EMAIL",
    "EXIT_PORT_IN_USE",
    "INSTANCE_ENV",
    "INSTANCE_HEADER",
    "KEY_FILE",
    "KEY_FILE_ENV",
    "LOG_FILE",
    "READY_DEADLINE",
    "SECRET_FILE",
    "Bootstrapped",
    "DevAccount",
    "DevServer",
    "DevServerFailed",
    "bootstrap",
    "forget_synced",
    "load_account",
    "port_in_use",
    "remember_server",
    "save_account",
]

READY_DEADLINE = 30.0
EXIT_PORT_IN_USE = 3  # webapi.devserver's exit status when it cannot listen
# The dev server sends back, on /healthz, the token it was started with: what answers on the port
# is then known to be the server this command started, not another one that holds the port.
INSTANCE_ENV = "PROMPTSYNC_DEV_INSTANCE"
INSTANCE_HEADER = "X-Promptsync-Dev-Instance"
# Where the dev server finds the key dev and watch use: its admin warns before revoking that one.
KEY_FILE_ENV = "PROMPTSYNC_DEV_KEY_FILE"


class DevServerFailed(ConfigError):
    """The dev server did not start: one line, and the end of its log (a traceback, say) as
    ``details``, which the CLI prints as lines of their own."""

    def __init__(self, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.details = tuple(details)


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on host:port already (a bind like the server's fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server binds: a port in TIME_WAIT after the last run is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE  # anything else, the server will report
    return False


class DevServer:
    """`python -m webapi.devserver` on 127.0.0.1:port, with its database in ``state_dir``."""

    def __init__(self, state_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.state_dir = Path(state_dir)
        self.port = port
        self.host = host
        self.url = f"http://{host}:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> Path:
        """The SQLite file."""
        return self.state_dir / DEV_DB

    @property
    def log_path(self) -> Path:
        """Where the server's output goes (migrations, requests, errors)."""
        return self.state_dir / LOG_FILE

    def _secret_key(self) -> str:
        path = self.state_dir / SECRET_FILE
        key = read_private(path)
        if key is None:
            key = secrets.token_hex(32)
            atomic_write(path, key.encode("ascii"), mode=PRIVATE)
        return key

    def start(self, deadline: float = READY_DEADLINE) -> None:
        """Start the server and wait until it answers; ConfigError (with its log) when it fails.

        A port in use is refused before anything starts; and only an answer carrying this
        start's token counts as ready, so another server on the port is never taken for ours.
        """
        if port_in_use(self.host, self.port):
            raise self._port_in_use()
        ensure_state_dir(self.state_dir)
        token = secrets.token_hex(16)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "SECRET_KEY": self._secret_key(),
            "PROMPTSYNC_ENV": "development",
            "PROMPTSYNC_SIGNUP_OPEN": "1",  # loopback only: the bootstrap signs up through the API
            # Local use: a webhook receiver on 127.0.0.1 is what a developer points at.
            "WEBHOOK_ALLOW_PRIVATE": os.environ.get("WEBHOOK_ALLOW_PRIVATE", "true"),
            "PYTHONUNBUFFERED": "1",
            INSTANCE_ENV: token,
            KEY_FILE_ENV: str(self.state_dir.resolve() / KEY_FILE),
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "webapi.devserver", "--host", self.host,
                 "--port", str(self.port), "--parent-pid", str(os.getpid()),
                 "--webhooks"],  # the webhook worker runs beside the server, as a thread
                cwd=self.state_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop it in order
            )
        end = time.monotonic() + deadline
        with httpx.Client(timeout=1.0) as web:
            while time.monotonic() < end:
                code = self.process.poll()
                if code is not None:
                    self.process = None
                    raise self._failed(code)
                try:
                    answer = web.get(self.url + "/healthz")
                    if answer.status_code == 200 and answer.headers.get(INSTANCE_HEADER) == token:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet; an answer without the token is someone else's
                time.sleep(0.05)
        self.stop()
        raise DevServerFailed(f"the dev server did not answer within {deadline:g} s; the end "
                              f"of {self.log_path}:", self._log_tail())

    def _port_in_use(self) -> ConfigError:
        return ConfigError(f"port {self.port} is in use: stop what uses it, or run "
                           f"promptsync dev --port {self.port + 1}")

    def _failed(self, code: int) -> ConfigError:
        if code == EXIT_PORT_IN_USE:
            return self._port_in_use()
        return DevServerFailed(f"the dev server exited with status {code}; the end of "
                               f"{self.log_path}:", self._log_tail())

    def check_running(self) -> None:
        """ConfigError when the server this started has exited (nothing to say ready about)."""
        code = self.process.poll() if self.process is not None else -1
        if code is not None:
            self.process = None
            raise self._failed(code)

    def wait_for_exit(self) -> ConfigError | None:
        """Block until the server exits: its failure when it ended on its own (killed, say),
        None when stop() ended it or none was started."""
        process = self.process
        if process is None:
            return None
        code = process.wait()
        return None if self.process is None else self._failed(code)  # stop() clears it first

    def _log_tail(self, lines: int = 15) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def stop(self, deadline: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
