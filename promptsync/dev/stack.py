"""`promptsync dev`: the API on SQLite in `.promptsync/`, run as a child process; a local account.

The server is `python -m webapi.devserver` (the CLI never imports Flask): database
`.promptsync/dev.db`, a SECRET_KEY generated once into `.promptsync/dev-secret-key` (admin
sessions survive restarts), development mode (cookies over plain http), its log in
`.promptsync/dev-server.log`. The first run signs up a local user, creates the project and an
admin API key through the API, and keeps them in `.promptsync/dev-account.json` and the key
alone in `.promptsync/dev-api-key` (mode 0600, in the git-ignored folder beside the database
they unlock) so that later runs, on any port, reuse them. The other commands run in the repository
find the key there too (config.dev_key), never in the user's credentials file.

Other commands find the dev server through `server` in promptsync.yaml (see dev/config.py).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

import httpx

from promptsync.client.api import ApiClient
from promptsync.config import DEV_ACCOUNT_FILE
from promptsync.errors import ApiError, ConfigError
from promptsync.fsutil import atomic_write
from promptsync.sync.state import SyncState, ensure_state_dir

DEV_DB = "dev.db"
SECRET_FILE = "dev-secret-key"
ACCOUNT_FILE = DEV_ACCOUNT_FILE  # where the other commands find the key (config.dev_key)
KEY_FILE = "dev-api-key"  # the key alone, for the curl line: -H "X-API-Key: $(cat ...)"
LOG_FILE = "dev-server.log"
DEV_EMAIL = "dev@promptsync.localhost"  # .localhost is reserved for loopback (RFC 6761)
DEFAULT_PROJECT = "demo"
READY_DEADLINE = 30.0
EXIT_PORT_IN_USE = 3  # webapi.devserver's exit status when it cannot listen
# The dev server sends back, on /healthz, the token it was started with: what answers on the port
# is then known to be the server this command started, not another one that holds the port.
INSTANCE_ENV = "PROMPTSYNC_DEV_INSTANCE"
INSTANCE_HEADER = "X-Promptsync-Dev-Instance"
# Where the dev server finds the key dev and watch use: its admin warns before revoking that one.
KEY_FILE_ENV = "PROMPTSYNC_DEV_KEY_FILE"
_PRIVATE = stat.S_IRUSR | stat.S_IWUSR


class DevServerFailed(ConfigError):
    """The dev server did not start: one line, and the end of its log (a traceback, say) as
    ``details``, which the CLI prints as lines of their own."""

    def __init__(self, message: str, details: list[str]) -> None:
        super().__init__(message)
        self.details = tuple(details)


@dataclass(frozen=True)
class DevAccount:
    """The local user, its password, the project and the admin key the CLI uses."""

    email: str
    password: str
    project: str
    key: str
    server: str | None = None  # the URL the database was last served on


def _read_private(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def load_account(state_dir: Path) -> DevAccount | None:
    """The stored dev account, or None when there is none (or it is unreadable)."""
    text = _read_private(state_dir / ACCOUNT_FILE)
    if text is None:
        return None
    try:
        return DevAccount(**json.loads(text))
    except (ValueError, TypeError):
        return None


def save_account(state_dir: Path, account: DevAccount) -> None:
    """Store the dev account, readable by its owner only."""
    ensure_state_dir(state_dir)
    atomic_write(state_dir / ACCOUNT_FILE, json.dumps(asdict(account), indent=1).encode(),
                 mode=_PRIVATE)
    atomic_write(state_dir / KEY_FILE, account.key.encode("ascii") + b"\n", mode=_PRIVATE)


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
        key = _read_private(path)
        if key is None:
            key = secrets.token_hex(32)
            atomic_write(path, key.encode("ascii"), mode=_PRIVATE)
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


def _key_works(url: str, key: str) -> bool:
    with ApiClient(url, key) as api:
        try:
            api.me()
        except ApiError as exc:
            if exc.status in (401, 403):
                return False
            raise
    return True


class Bootstrapped(StrEnum):
    """What bootstrap did for the dev account (each run says it its own way)."""

    REUSED = "reused"  # the stored key still works
    CREATED = "created"  # a new user: the first run, or a database started afresh
    NEW_KEY = "new key"  # the stored user, a new key: the old one was revoked


def bootstrap(url: str, project: str, state_dir: Path) -> tuple[DevAccount, Bootstrapped]:
    """The dev account: reused while its key works, else a new key, else a new user."""
    stored = load_account(state_dir)
    if stored is not None and stored.project == project and _key_works(url, stored.key):
        return stored, Bootstrapped.REUSED
    outcome = Bootstrapped.CREATED
    email = stored.email if stored is not None else DEV_EMAIL
    password = stored.password if stored is not None else secrets.token_urlsafe(15)
    with ApiClient(url) as api:
        try:
            api.signup(email, password)
        except ApiError as exc:
            if exc.status != 409:
                raise
            outcome = Bootstrapped.NEW_KEY  # the user is there: only its key is new
        try:
            api.login(email, password)
        except ApiError as exc:
            if exc.status == 401:
                raise ConfigError(
                    f"{email} exists in {state_dir / DEV_DB} with another password: delete "
                    "that file to start afresh (its prompts are in your files)"
                ) from None
            raise
        roles = {p.get("slug"): p.get("role") for p in api.projects()}
        if project not in roles:
            try:
                api.create_project(project, project.replace("-", " ").title())
            except ApiError as exc:
                if exc.status != 409:
                    raise
                roles[project] = None  # someone else's: removed from it in the admin, say
        if roles.get(project, "admin") != "admin":
            where = (f"is a {roles[project]} of" if roles[project] else "is not a member of")
            raise ConfigError(
                f"{email} {where} project '{project}' on this dev server, and dev needs an "
                f"admin key: have an admin of '{project}' add it back as an admin (the "
                f"password is in {state_dir / ACCOUNT_FILE}), or delete {state_dir / DEV_DB} "
                "to start afresh (its prompts are in your files)"
            )
        # No logout: it ends every session of the user, so the admin page where the old key
        # was just revoked would be logged out too. This session's cookie dies with the client.
        key = api.create_key(project, "promptsync dev", "admin")["key"]
    account = DevAccount(email, password, project, str(key))
    save_account(state_dir, account)
    return account, outcome


# --- the URL the database is served on ---------------------------------------------------


def remember_server(state_dir: Path, account: DevAccount, server: str, project: str,
                    fresh: bool) -> DevAccount:
    """Record that the database is now served on ``server``; carry the sync state over.

    The sync state is kept per server URL: after a run on another port, what was in sync (and
    any save still in the journal) belongs to this same database, so it moves with it.
    """
    previous = account.server
    if not fresh and previous and previous != server:
        state = SyncState.load(state_dir, previous, project)
        if state.entries or state.journal:
            state.server = server
            state.save()
    if previous != server:
        account = replace(account, server=server)
        save_account(state_dir, account)
    return account


def forget_synced(state_dir: Path, server: str, project: str) -> None:
    """Empty the sync state of ``server``: a new database knows none of the versions it names."""
    state = SyncState.load(state_dir, server, project)
    state.entries.clear()
    state.journal.clear()
    state.save()
