"""CLI commands that keep running: `watch` (saves -> versions) and `dev` (the local stack)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from promptsync.cli.context import Obj, display, echo_err, pass_obj
from promptsync.cli.errors import describe

if TYPE_CHECKING:
    from promptsync.config import RepoConfig
    from promptsync.errors import PromptSyncError
    from promptsync.watch.daemon import WatchDaemon


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread while it waits."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None]) -> bool:
    """Run start(), wait for Ctrl-C or SIGTERM, then stop(); True when it was Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    # A shell starts `cmd &` with SIGINT ignored, and Python then keeps ignoring it: honour
    # `kill -INT` as the documented way to stop, like Ctrl-C.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted = False
    try:
        start()
        threading.Event().wait()  # the worker threads do everything; a signal ends this wait
    except KeyboardInterrupt:
        interrupted = True
    except _Terminated:
        pass
    finally:
        # A second signal must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            stop()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)
    return interrupted


def _daemon(obj: Obj, engine: object, **options: object) -> WatchDaemon:
    from promptsync.sync.engine import SyncEngine
    from promptsync.watch.daemon import WatchDaemon

    assert isinstance(engine, SyncEngine)

    def say(exc: PromptSyncError) -> str:
        return describe(exc, obj)

    return WatchDaemon(engine, log=echo_err, describe=say, **options)  # type: ignore[arg-type]


def _finish(daemon: WatchDaemon, interrupted: bool) -> None:
    left = daemon.outbox.count()
    note = f"; {left} change{'s' * (left != 1)} queued for the next run" if left else ""
    echo_err(f"stopped{note}")
    if interrupted:
        raise KeyboardInterrupt  # the group turns it into exit 130


@click.command()
@click.option("--poll-interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between checks for server-side changes.")
@click.option("--polling", is_flag=True, help="Watch by polling the files (network drives).")
@pass_obj
def watch(obj: Obj, poll_interval: float, polling: bool) -> None:
    """Push every save as a new version; pull server-side changes into unmodified files."""
    engine = obj.engine()
    daemon = _daemon(obj, engine, poll_interval=poll_interval,
                     watcher_options={"force_polling": polling})

    def start() -> None:
        daemon.start()
        kind = daemon.watcher.observer_kind if daemon.watcher else "?"
        echo_err(f"watching {display(engine.dir)}/ ({kind}) for project '{engine.project}' on "
                 f"{engine.server}; Ctrl-C to stop")

    _finish(daemon, run_until_signalled(start, daemon.stop))


def _example(engine: object) -> tuple[str, int] | None:
    """A prompt to show in the curl line: support/greeting when present, else the first."""
    from promptsync.sync.engine import SyncEngine

    assert isinstance(engine, SyncEngine)
    entries = engine.reload().entries
    if not entries:
        return None
    slug = "support/greeting" if "support/greeting" in entries else min(entries)
    return slug, entries[slug].version


def _point_repo(root: Path, server: str, project: str) -> RepoConfig:
    """promptsync.yaml written, or pointed at the dev server when that is ours to change."""
    from promptsync.cli.sync import gitignore_state
    from promptsync.config import CONFIG_FILENAME, DEFAULT_DIR, read_repo_config, write_repo_config
    from promptsync.dev.config import is_local, update_repo_config

    if not (root / CONFIG_FILENAME).exists():
        write_repo_config(root, server, project, DEFAULT_DIR)
        ignored = " and git-ignored .promptsync/" if gitignore_state(root) else ""
        repo = read_repo_config(root)
        echo_err(f"wrote {display(repo.path)} (server {server}, project {project}){ignored}")
        return repo
    repo = read_repo_config(root)
    changes = {}
    # A remote server in the committed file is the team's setting: not ours to change.
    if repo.server != server and (repo.server is None or is_local(repo.server)):
        changes["server"] = server
    if repo.project is None:
        changes["project"] = project
    if not changes:
        return repo
    update_repo_config(repo, **changes)
    echo_err(f"updated {display(repo.path)}: " + ", ".join(
        f"{key} {getattr(repo, key) or '(none)'} -> {value}" for key, value in changes.items()))
    return read_repo_config(root)


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
                     "stored for this server")
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
    from promptsync.client.api import ApiClient
    from promptsync.config import (
        find_repo_root,
        load_repo_config,
        save_credentials,
    )
    from promptsync.dev.config import default_port
    from promptsync.dev.stack import (
        DEFAULT_PROJECT,
        KEY_FILE,
        DevServer,
        bootstrap,
        remember_server,
    )
    from promptsync.sync.engine import SyncEngine
    from promptsync.sync.state import SyncState

    started = time.monotonic()
    root = find_repo_root() or Path.cwd()
    configured = load_repo_config(root)
    if port is None:
        port = default_port(obj.server or (configured.server if configured else None))
    server = f"http://127.0.0.1:{port}"
    project = obj.project or (configured.project if configured else None) or DEFAULT_PROJECT
    stack = DevServer(root / ".promptsync", port)
    fresh = not stack.database.exists()
    stack.start()  # before promptsync.yaml changes: a port in use leaves it as it was
    api: ApiClient | None = None
    try:
        repo = _point_repo(root, server, project)
        repo.dir.mkdir(parents=True, exist_ok=True)
        account, created = bootstrap(server, project, repo.state_dir)
        account = remember_server(repo.state_dir, account, server, project, fresh)
        stored = save_credentials(server, project, account.key)
        if created:
            echo_err(f"created a local account (shown once): {account.email} / "
                     f"{account.password}\n  project '{project}', admin API key {account.key}\n"
                     f"  the key is stored for the CLI in {stored}")
        if fresh:
            # A new database knows none of the versions an old state file remembers.
            state = SyncState.load(repo.state_dir, server, project)
            state.entries.clear()
            state.journal.clear()
            state.save()
        api = ApiClient(server, account.key)
        engine = SyncEngine(repo, api, project, server)
        daemon = _daemon(obj, engine)

        def start() -> None:
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
    _finish(daemon, interrupted)


COMMANDS = [watch, dev]
