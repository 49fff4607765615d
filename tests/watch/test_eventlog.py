"""Tests for promptsync.watch.eventlog: what `watch` says shows hostile slugs, details and file
names escaped, class by class, from the event log itself and from a daemon over a hostile server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.errors import Problem
from promptsync.sync.engine import SyncEngine
from promptsync.watch.daemon import WatchDaemon
from promptsync.watch.eventlog import EventLog
from tests.support.app import IN_PROCESS, make_account
from tests.support.fakes import FakeClock
from tests.support.hostile import HOSTILE, HOSTILE_IDS, MARKER, Hostile, dangerous
from tests.support.live import make_prompt_repo, prompt_source


@pytest.mark.parametrize(("name", "text", "seen"), HOSTILE, ids=HOSTILE_IDS)
def test_every_line_of_the_event_log_is_escaped(name: str, text: str, seen: str) -> None:
    lines: list[str] = []
    say = EventLog(lines.append)
    say(f"{text}: pulled v1")
    say.invalid(f"{text}.yaml", (Problem(f"unknown key {text!s}", 2, 1),))
    say.deleted(text)
    say.conflict(text, 3, "abc")
    say.refused(text, 4, 2, "def", 1)
    assert len(lines) == 5
    assert [dangerous(line, lines=False) for line in lines] == [[]] * 5
    assert all(line.startswith(seen) for line in lines)


def test_a_line_cannot_fake_a_second_one() -> None:
    lines: list[str] = []
    EventLog(lines.append)("evil\x1b[2J\nrefused: x: pulled v1")
    assert lines == ["evil\\x1b[2J\\nrefused: x: pulled v1"]


@pytest.mark.parametrize(("name", "text", "seen"), HOSTILE, ids=HOSTILE_IDS)
def test_the_daemon_says_what_a_hostile_server_sent_escaped(
        tmp_path: Path, sqlite_app: Flask, name: str, text: str, seen: str) -> None:
    account = make_account(sqlite_app)
    with ApiClient(IN_PROCESS, account.keys["editor"],
                   transport=httpx.WSGITransport(app=sqlite_app)) as api:
        api.push(account.project, f"evil-{MARKER}", prompt_source())
        api.push(account.project, "fine", prompt_source())
    root = tmp_path / "repo"
    make_prompt_repo(root, IN_PROCESS, account.project)
    lines: list[str] = []
    with ApiClient(IN_PROCESS, account.keys["editor"],
                   transport=Hostile(sqlite_app, text)) as api:
        engine = SyncEngine(read_repo_config(root), api, account.project, IN_PROCESS)
        daemon = WatchDaemon(engine, log=lines.append, clock=FakeClock())
        daemon.step()
    assert any(line.startswith(f"evil-{seen}: not pulled: ") for line in lines), lines
    assert "fine: pulled v1" in lines
    assert [dangerous(line, lines=False) for line in lines] == [[]] * len(lines)
