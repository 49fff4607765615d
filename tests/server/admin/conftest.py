"""What the admin tests share: project 'demo' with an admin, an editor and a viewer signed in;
for the browser tests, a real server process."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.support.admin_team import Team, make_team, team_members
from tests.support.browser import browser_unavailable
from tests.support.live import LiveServer
from tests.support.saved_states import SavedStates


@pytest.fixture
def team(app: Flask, saved_states: SavedStates) -> Team:
    """make_team on the test's app (each backend in turn); its database part made once per
    process and put back after that, its members signed in for each test."""
    return make_team(app, saved_states.get(app, "team", team_members))


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`flask --app webapi run` on a loopback port over a copy of the migrated SQLite template,
    one per browser test module (skipped without Chromium, failed in CI)."""
    reason = browser_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the browser tests: {reason}")
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("browser-server")
    database = workdir / "admin.db"
    shutil.copyfile(sqlite_template, database)
    live = LiveServer(workdir, f"sqlite:///{database}", {"SECRET_KEY": "browser-test-secret"})
    live.start(migrate=False)  # a copy of the migrated template
    try:
        yield live.url
    finally:
        live.stop()
