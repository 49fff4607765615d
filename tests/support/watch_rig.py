"""A watch daemon over the real app in-process (httpx WSGI transport), a fake clock and no
watcher thread: tests deliver paths as the watcher does and step the sync thread themselves."""

from __future__ import annotations

from pathlib import Path

import httpx
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.errors import ApiError
from promptsync.sync.engine import SyncEngine
from promptsync.watch.daemon import WatchDaemon
from tests.support.app import Account
from tests.support.fakes import FakeClock
from tests.support.live import make_prompt_repo

SERVER = "http://testserver"


class LosingTransport(httpx.BaseTransport):
    """The app over WSGI, counting the POSTs it sends (``posts``: their paths); with ``lose``
    set, the next POST reaches the app, which acts on it, and its answer is lost on the way
    back (a connection cut after the request was sent)."""

    def __init__(self, app: Flask) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.lose = False
        self.posts: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts.append(request.url.path)
        response = self.inner.handle_request(request)
        if self.lose and request.method == "POST":
            self.lose = False
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


class Rig:
    """A prompt repo, a watch daemon over the app, a second client as a colleague."""

    def __init__(self, root: Path, app: Flask, account: Account) -> None:
        self.account = account
        self.project = account.project
        self.prompts = make_prompt_repo(root, SERVER, account.project)
        self.transport = LosingTransport(app)
        self.api = ApiClient(SERVER, account.keys["editor"], transport=self.transport)
        self.admin = ApiClient(SERVER, account.keys["admin"],
                               transport=httpx.WSGITransport(app=app))
        self.engine = SyncEngine(read_repo_config(root), self.api, account.project, SERVER)
        self.clock = FakeClock()
        self.lines: list[str] = []
        self.daemon = WatchDaemon(self.engine, log=self.lines.append, clock=self.clock,
                                  poll_interval=2.0, backoff=(0.5, 5.0))

    def path(self, slug: str) -> Path:
        return self.prompts / f"{slug}.yaml"

    def deliver(self, *slugs: str) -> None:
        """The watcher hands these paths over (a missing one after its grace period); then
        the sync thread steps."""
        self.daemon.on_change(sorted(self.path(s) for s in slugs))
        self.daemon.step()

    def save(self, slug: str, text: str) -> None:
        self.path(slug).write_text(text)
        self.deliver(slug)

    def poll(self) -> None:
        """The sync thread's next poll of the server."""
        self.clock.now += 60
        self.daemon.step()

    def live(self, slug: str) -> bool:
        """Whether the server serves the prompt's latest (410 once archived)."""
        try:
            self.admin.get_version(self.project, slug)
        except ApiError as exc:
            assert exc.status == 410, exc
            return False
        return True

    def close(self) -> None:
        self.api.close()
        self.admin.close()
