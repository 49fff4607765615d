"""A version that `watch` (or `dev`) pushed says so in its message: `log` shows where it came
from. The daemon over the real app in-process, driven as the watcher and sync thread would."""

from __future__ import annotations

from pathlib import Path

import httpx
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.sync.engine import SyncEngine
from promptsync.watch.daemon import WatchDaemon
from tests.support.app import make_account
from tests.support.fakes import FakeClock
from tests.support.live import make_prompt_repo, prompt_source

SERVER = "http://testserver"


def test_a_save_pushed_by_watch_carries_a_message_saying_so(
        tmp_path: Path, sqlite_app: Flask) -> None:
    account = make_account(sqlite_app)
    prompts = make_prompt_repo(tmp_path / "repo", SERVER, account.project)
    with ApiClient(SERVER, account.keys["editor"],
                   transport=httpx.WSGITransport(app=sqlite_app)) as api:
        engine = SyncEngine(read_repo_config(tmp_path / "repo"), api, account.project, SERVER)
        daemon = WatchDaemon(engine, log=lambda _line: None, clock=FakeClock())
        saved = prompts / "support" / "greeting.yaml"
        saved.parent.mkdir(parents=True)
        saved.write_text(prompt_source())
        daemon.on_change([saved])
        daemon.step()
        (version,) = api.versions(account.project, "support/greeting")
    assert version["message"] == "saved in support/greeting.yaml (promptsync watch)"
