"""What every CLI command shares: settings on ctx.obj, the API client, the sync engine, paths."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from promptsync.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from promptsync.client.api import ApiClient
    from promptsync.config import RepoConfig, Settings
    from promptsync.sync.engine import SyncEngine


@dataclass
class Obj:
    """The group's options and what they resolve to; tests inject ``transport`` here."""

    server: str | None = None
    project: str | None = None
    api_key: str | None = None
    debug: bool = False
    transport: httpx.BaseTransport | None = None
    terminal: bool | None = None  # whether stdout is a terminal; None: ask it (tests say)
    timeout: float = 30.0
    sleep: Callable[[float], None] = time.sleep  # the waits between retries; tests inject
    _settings: Settings | None = field(default=None, repr=False)
    _clients: list[Any] = field(default_factory=list, repr=False)

    def settings(self) -> Settings:
        """Arguments > environment > promptsync.yaml > stored credentials, resolved once."""
        if self._settings is None:
            from promptsync.config import resolve_settings  # PyYAML: only when settings are used

            self._settings = resolve_settings(self.server, self.project, self.api_key)
        return self._settings

    def repo(self) -> RepoConfig:
        """The repository around the working directory, or a ConfigError saying to init one."""
        repo = self.settings().repo
        if repo is None:
            raise ConfigError(
                "not in a promptsync repository (no promptsync.yaml here or in any parent "
                "folder): run promptsync init"
            )
        return repo

    def require_server(self) -> str:
        """The server URL, or a ConfigError saying how to set one."""
        server = self.settings().server
        if server is None:
            raise ConfigError(
                "no server configured: pass --server URL, set PROMPTSYNC_SERVER, "
                "or run promptsync init --server URL"
            )
        return server

    def require_project(self) -> str:
        """The project slug, or a ConfigError saying how to set one."""
        project = self.settings().project
        if project is None:
            raise ConfigError(
                "no project configured: pass --project SLUG, set PROMPTSYNC_PROJECT, "
                "or run promptsync init --project SLUG"
            )
        return project

    def whose(self, server: str) -> str:
        """The server, with the project when one is set: keys are kept per server and project."""
        project = self.settings().project
        return f"project '{project}' on {server}" if project else server

    def client(self, *, with_key: bool = True, timeout: float | None = None) -> ApiClient:
        """An ApiClient for the server (with the API key unless ``with_key`` is False)."""
        server = self.require_server()
        key = self.settings().api_key if with_key else None
        if with_key and not key:
            raise ConfigError(f"no API key for {self.whose(server)}: run promptsync login, or "
                              "set PROMPTSYNC_API_KEY")
        from promptsync.cli.output import echo_retry  # imports this module
        from promptsync.client.api import ApiClient  # httpx costs ~0.1 s: only when it is used
        from promptsync.client.retry import RetryPolicy

        # The command line retries idempotent requests on a connection error or a 502/503/504
        # with backoff (client/retry.py), and says so on stderr each time.
        retry = RetryPolicy(sleep=self.sleep, on_retry=echo_retry)
        api = ApiClient(server, key, transport=self.transport, timeout=timeout or self.timeout,
                        retry=retry)
        self._clients.append(api)
        return api

    def engine(self) -> SyncEngine:
        """The sync engine for this repository, its project and the server."""
        repo = self.repo()
        project = self.require_project()
        api = self.client()
        from promptsync.sync.engine import SyncEngine  # start-up cost: PyYAML, only when used

        return SyncEngine(repo, api, project, api.server)

    def is_terminal(self) -> bool:
        """Whether stdout is a terminal (then content is shown escaped, not written exactly)."""
        return self.terminal if self.terminal is not None else sys.stdout.isatty()

    def close(self) -> None:
        """Close every ApiClient handed out."""
        for api in self._clients:
            api.close()
        self._clients.clear()


pass_obj = click.make_pass_decorator(Obj, ensure=True)


def display(path: Path | str | None) -> str:
    """A path as the user should see it: relative to the working dir when below it."""
    if path is None:
        return "?"
    path = Path(os.path.abspath(path))
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except (ValueError, OSError):
        return str(path)
