"""`promptsync dev`: the local stack of promptsync/dev/ (API on SQLite, an account), then watch."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptsync.cli.context import Obj, display, pass_obj
from promptsync.cli.daemon import finish, run_until_signalled, watch_daemon
from promptsync.cli.output import echo_err
from promptsync.dev.lock import DevLock
from promptsync.errors import ConfigError

KEY_REFUSED = ("stop promptsync dev and start it again: it makes a new key, then pushes what is "
               "queued")

if TYPE_CHECKING:
    from promptsync.config import RepoConfig
    from promptsync.dev.config import PointedRepo
    from promptsync.dev.stack import Bootstrapped, DevAccount
    from promptsync.sync.engine import SyncEngine


def _example(engine: SyncEngine) -> tuple[str, int] | None:
    """A prompt to show in the curl line: support/greeting when present, else the first."""
    entries = {s: e for s, e in engine.reload().entries.items() if not e.archived}
    if not entries:
        return None
    slug = "support/greeting" if "support/greeting" in entries else min(entries)
    return slug, entries[slug].version


def _pointed(pointed: PointedRepo, server: str, project: str) -> str | None:
    """What dev did to promptsync.yaml, in one line; None when it was left as it was."""
    where = display(pointed.repo.path)
    if pointed.wrote:
        ignored = " and git-ignored .promptsync/" if pointed.ignored else ""
        return f"wrote {where} (server {server}, project {project}){ignored}"
    if pointed.changed:
        return f"updated {where}: " + ", ".join(
            f"{key} {old or '(none)'} -> {new}" for key, (old, new) in pointed.changed.items())
    return None


def _account_lines(account: DevAccount, outcome: Bootstrapped, stored: Path, server: str,
                   state_dir: Path) -> list[str]:
    """What dev says about its local account: made now, a new key, or where it is kept."""
    from promptsync.dev.stack import ACCOUNT_FILE, Bootstrapped  # start-up cost: httpx

    where = display(state_dir / ACCOUNT_FILE)
    login = f"log in to {server}/admin as {account.email} with the password in {where}"
    if outcome == Bootstrapped.CREATED:
        return [f"created a local account (shown once): {account.email} / {account.password}",
                f"  project '{account.project}', admin API key {account.key}",
                f"  the key is kept for the CLI in {display(stored)}; the account in {where}"]
    if outcome == Bootstrapped.NEW_KEY:
        return [f"created a new key (the stored one no longer worked): {account.key}",
                f"  kept for the CLI in {display(stored)}; {login}"]
    return [f"local account: {login}"]


def _forget_stored(keys: set[str], kept: Path) -> str | None:
    """Take dev's keys out of the user's credentials file, where dev used to store them under
    each URL it served on; what was done, in one line (None: nothing was there)."""
    from promptsync.config import credentials_path
    from promptsync.dev.credentials import forget_keys
    from promptsync.errors import ConfigError

    try:
        removed = forget_keys(keys)
    except (ConfigError, OSError):
        return None  # an unreadable file is for login to report: dev does not need it
    if not removed:
        return None
    entries = "entry" if removed == 1 else "entries"
    return (f"removed {removed} {entries} of the dev key from {display(credentials_path())}: "
            f"it is kept in {display(kept)}, where commands in this repository find it")


def _reach(obj: Obj, repo: RepoConfig, server: str, project: str) -> list[str]:
    """How commands in other terminals reach the dev server, and what would make them miss it."""
    where = display(repo.path)
    if repo.server != server:
        return [f"  other terminals: {where} names {repo.server} (left as it is); reach this "
                f"server with PROMPTSYNC_SERVER={server} or --server {server}"]
    lines = [f"  other terminals: status, push, pull, log ... in this repository use this server"
             f" ({where} names it)"]
    if obj.server and obj.server.rstrip("/") != server:
        lines.append(f"note: --server or PROMPTSYNC_SERVER is set to {obj.server}, which wins "
                     f"over {where}: unset it to reach this server")
    if repo.project != project:
        lines.append(f"note: serving project '{project}' (--project or PROMPTSYNC_PROJECT); "
                     f"{where} names '{repo.project}'")
    if obj.api_key:
        lines.append("note: --api-key or PROMPTSYNC_API_KEY is set and wins over the dev key "
                     "kept in .promptsync/")
    return lines


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Port of the local API server on 127.0.0.1 [default: the port of the local "
                   "server in promptsync.yaml, else 5000]. promptsync.yaml is updated to it.")
@pass_obj
def dev(obj: Obj, port: int | None) -> None:
    """Run the local stack: API on SQLite in .promptsync/, a local account, push and watch.

    Other commands in this repository reach the stack through promptsync.yaml, which dev points
    at it (unless the file names a remote server, which is left alone).
    """
    # Start-up cost: httpx and PyYAML load only when dev runs, not for `promptsync --help`.
    from promptsync.client.api import ApiClient
    from promptsync.config import find_repo_root, load_repo_config
    from promptsync.dev.config import default_port, point_repo
    from promptsync.dev.stack import (
        DEFAULT_PROJECT,
        KEY_FILE,
        DevServer,
        bootstrap,
        forget_synced,
        load_account,
        remember_server,
    )
    from promptsync.sync.engine import SyncEngine

    started = time.monotonic()
    root = find_repo_root() or Path.cwd()
    configured = load_repo_config(root)
    if port is None:
        port = default_port(obj.server or (configured.server if configured else None))
    server = f"http://127.0.0.1:{port}"
    project = obj.project or (configured.project if configured else None) or DEFAULT_PROJECT
    stack = DevServer(root / ".promptsync", port)
    # Before the port check: a second dev here is told about the first, not about its port.
    lock = DevLock(root / ".promptsync")
    lock.acquire(server)
    click.get_current_context().call_on_close(lock.release)
    fresh = not stack.database.exists()
    stack.start()  # before promptsync.yaml changes: a port in use leaves it as it was
    api: ApiClient | None = None
    try:
        pointed = point_repo(root, server, project)
        if (line := _pointed(pointed, server, project)) is not None:
            echo_err(line)
        repo = pointed.repo
        repo.dir.mkdir(parents=True, exist_ok=True)
        before = load_account(repo.state_dir)
        account, outcome = bootstrap(server, project, repo.state_dir)
        account = remember_server(repo.state_dir, account, server, project, fresh)
        # Not in the user's credentials file: commands run here find it in the repository
        # (config.dev_key), and other repositories have no use for it.
        kept = repo.state_dir / KEY_FILE
        for line in _account_lines(account, outcome, kept, server, repo.state_dir):
            echo_err(line)
        if (line := _forget_stored({account.key, *([before.key] if before else [])}, kept)):
            echo_err(line)
        if fresh:
            forget_synced(repo.state_dir, server, project)
        api = ApiClient(server, account.key)
        engine = SyncEngine(repo, api, project, server)
        # Its key revoked (from the admin, say): `promptsync login` is no cure here.
        daemon = watch_daemon(obj, engine, refused_key=KEY_REFUSED)

        died: list[ConfigError] = []

        def end_if_the_server_dies() -> None:
            failure = stack.wait_for_exit()
            if failure is not None:  # else stop() ended it: dev is ending anyway
                died.append(failure)
                os.kill(os.getpid(), signal.SIGTERM)  # ends the wait below as `kill` would

        def start() -> None:
            stack.check_running()  # never "ready" on top of a server that died meanwhile
            # Not "server unreachable" forever: a server that dies ends dev with its log.
            threading.Thread(target=end_if_the_server_dies, name="dev-server-exit",
                             daemon=True).start()
            daemon.start()
            key_file = f"$(cat {display(repo.state_dir / KEY_FILE)})"
            example = _example(engine)
            base = f"{server}/api/v1/projects/{project}/prompts"
            target = f"{base}/{example[0]}?version={example[1]}" if example else base
            echo_err(f"ready in {time.monotonic() - started:.1f} s: API {server}/api/v1, admin "
                     f"{server}/admin, docs {server}/docs")
            echo_err(f"  curl -H \"X-API-Key: {key_file}\" '{target}'")
            for line in _reach(obj, repo, server, project):
                echo_err(line)
            echo_err(f"watching {display(engine.dir)}/: every save is a new version; "
                     "Ctrl-C to stop")

        interrupted = run_until_signalled(start, daemon.stop)
    finally:
        if api is not None:
            api.close()
        stack.stop()
    finish(daemon, interrupted)  # one line; Ctrl-C exits 130
    if died:
        raise died[0]  # the server's exit and the end of its log; exit 1


COMMANDS = [dev]
