"""A live watch stack for tests: the real app on a loopback port (a werkzeug server thread that
can be stopped and started again, with a gate that holds uploads), a prompt repo with a.yaml at
v1, a WatchDaemon with a real observer over it, and `promptsync watch` as a subprocess."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.sync.engine import SyncEngine
from promptsync.watch.daemon import WatchDaemon
from tests.support.app import Account
from tests.support.command import Background
from tests.support.environment import command_env
from tests.support.live import free_port, make_prompt_repo, prompt_source
from tests.support.waiting import wait_until

QUIET = 0.15
SETTLE = QUIET + 0.6  # long enough for a stray second upload to show (a negative check)


class ThreadServer:
    """The app on 127.0.0.1:port in a thread; stop() and start() again on the same port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ThreadServer:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name="test-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None


class PostGate:
    """WSGI middleware: while closed, every POST is read whole and then waits at the gate, so
    the server demonstrably holds the upload (``held`` counts them) until ``open()``."""

    LIMIT = 30.0  # seconds a held POST waits before it goes on anyway (a test that forgot)

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.held = 0

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST" and not self._open.is_set():
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
            with self._lock:
                self.held += 1
            try:
                self._open.wait(self.LIMIT)
            finally:
                with self._lock:
                    self.held -= 1
        return self.app(environ, start_response)


class Stack:
    """A server, an account, a prompt repo with a.yaml at v1, and a way to read versions."""

    def __init__(self, root: Path, app: Flask, account: Account) -> None:
        self.app = app
        self.account = account
        self.wsgi = PostGate(app)
        self.server = ThreadServer(self.wsgi).start()
        self.root = root
        self.prompts = make_prompt_repo(root, self.server.url, account.project,
                                        {"a.yaml": prompt_source("Hello {{ name }}.")})
        self.path = self.prompts / "a.yaml"
        self.web = httpx.Client(base_url=f"{self.server.url}/api/v1/projects/"
                                f"{account.project}/prompts",
                                headers={"X-API-Key": account.keys["editor"]}, timeout=10)
        self.daemon: WatchDaemon | None = None
        self.api: ApiClient | None = None
        self.lines: list[str] = []

    def sources(self, slug: str = "a") -> list[str]:
        """Every version's source, oldest first ([] while the server is down or has none)."""
        try:
            listed = self.web.get(f"/{slug}/-/versions", params={"limit": 1000})
            if listed.status_code != 200:
                return []
            return [self.web.get(f"/{slug}", params={"version": v["version"]}).json()["source"]
                    for v in reversed(listed.json()["versions"])]
        except httpx.HTTPError:
            return []

    def slugs(self) -> list[str]:
        """The slugs of every prompt on the server."""
        manifest = httpx.get(f"{self.server.url}/api/v1/projects/{self.account.project}/prompts",
                             headers={"X-API-Key": self.account.keys["editor"]}, timeout=10)
        return [p["slug"] for p in manifest.json()["prompts"]]

    def latest(self, slug: str = "a") -> str | None:
        response = self.web.get(f"/{slug}")
        return response.json()["source"] if response.status_code == 200 else None

    def watch(self, **options: Any) -> WatchDaemon:
        self.api = ApiClient(self.server.url, self.account.keys["editor"])
        engine = SyncEngine(read_repo_config(self.root), self.api, self.account.project,
                            self.server.url)
        watcher = {"quiet": QUIET, "grace": 1.0, **options.pop("watcher", {})}
        self.daemon = WatchDaemon(engine, log=self.lines.append, poll_interval=0.3,
                                  backoff=(0.1, 0.4), watcher_options=watcher, **options)
        self.daemon.start()
        wait_until(lambda: self.sources() == [self.path.read_text()], 10, "a.yaml pushed at start")
        return self.daemon

    def close(self) -> None:
        self.wsgi.open()
        if self.daemon is not None:
            self.daemon.stop()
        if self.api is not None:
            self.api.close()
        self.web.close()
        self.server.stop()


class Watch(Background):
    """`promptsync watch` in a repo with ``key``, started: it said "watching"."""

    def __init__(self, root: Path, key: str) -> None:
        env = command_env(root / ".xdg", PROMPTSYNC_API_KEY=key, PYTHONUNBUFFERED="1")
        super().__init__(root, env, "watch", "--poll-interval", "0.3")
        self.wait_for_line("watching", 20)
