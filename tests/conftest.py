"""Fixtures of every area: the real app on real SQLite and Postgres databases, a user with a
project and keys, a prompt repository on disk, and none of the machine user's promptsync settings.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from flask import Flask

from tests.support import ordering
from tests.support.app import (
    BACKENDS,
    IN_PROCESS,
    PG_ADMIN_URL,
    Account,
    make_account,
    migrate,
    require_postgres,
)
from tests.support.environment import CLIENT_VARIABLES
from tests.support.live import make_prompt_repo
from tests.support.saved_states import SavedStates
from tests.support.shared_apps import FAILED, SharedApps, restore_sqlite

# Where the environment forbids bytecode files (PYTHONDONTWRITEBYTECODE=1), every test process
# would rewrite the asserts of every test module and compile them and the project again (~3 s of
# CPU per xdist worker), and every `promptsync` or server subprocess would compile the project
# again: allowed for this run and its subprocesses (in __pycache__/ folders, which git ignores).
if sys.dont_write_bytecode:
    sys.dont_write_bytecode = False
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pytest_configure(config: pytest.Config) -> None:
    """How xdist hands the tests out (tests/support/ordering.py)."""
    ordering.register(config)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """How many workers `-n auto` starts (tests/support/ordering.py)."""
    return ordering.auto_workers()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Iterator[None]:
    """Mark a test that failed in any phase, so the app it was lent is not lent again."""
    report = yield
    if report.failed:  # type: ignore[attr-defined]
        item.stash[FAILED] = True
    return report


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway migrated Postgres database for this test session, dropped afterwards."""
    require_postgres()
    name = f"promptsync_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
        # A commit need not wait for its WAL flush in a database dropped at the end of the run
        # (the answers are the same; only a crash of the server could lose a commit).
        cur.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        migrate(url)
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="session")
def shared_apps() -> Iterator[SharedApps]:
    """The apps this test process keeps and lends to test after test (tests/support/
    shared_apps.py says why and when one is thrown away)."""
    apps = SharedApps()
    yield apps
    apps.close()


@pytest.fixture(scope="session")
def _sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this test process keeps its SQLite test database (one place: its app is kept)."""
    return tmp_path_factory.mktemp("sqlite") / "test.db"


@pytest.fixture
def sqlite_url(sqlite_template: Path, _sqlite_path: Path, shared_apps: SharedApps) -> str:
    """An empty, migrated SQLite database only (for tests that need one backend): a fresh copy of
    the template, at the same path for every test of this process."""
    url = f"sqlite:///{_sqlite_path}"
    shared_apps.release(url)  # no kept app holds a connection to the file being replaced
    restore_sqlite(sqlite_template, _sqlite_path)
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty, migrated database: SQLite and Postgres in turn."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("postgres_url"))
    request.getfixturevalue("shared_apps").empty_postgres(url)
    return url


@pytest.fixture
def app(database_url: str, shared_apps: SharedApps, request: pytest.FixtureRequest
        ) -> Iterator[Flask]:
    """The real app on each backend in turn (a kept one, over the emptied database)."""
    with shared_apps.lend(database_url, request.node) as application:
        yield application


@pytest.fixture
def sqlite_app(sqlite_url: str, shared_apps: SharedApps, request: pytest.FixtureRequest
               ) -> Iterator[Flask]:
    """The real app on one SQLite database (for tests that need one backend)."""
    with shared_apps.lend(sqlite_url, request.node) as application:
        yield application


@pytest.fixture(scope="session")
def saved_states(shared_apps: SharedApps, tmp_path_factory: pytest.TempPathFactory
                 ) -> SavedStates:
    """Database states made once through the API and put back for later tests (tests/support/
    saved_states.py)."""
    return SavedStates(shared_apps, tmp_path_factory.mktemp("saved-states"))


@pytest.fixture
def account(app: Flask, saved_states: SavedStates) -> Account:
    """ann@example.com, admin of project 'demo', with keys of every role."""
    return saved_states.get(app, "account", make_account)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PROMPTSYNC_* setting of whoever runs the tests reaches the client, and the config home
    (credentials) is tmp_path/xdg; returns that config home."""
    for name in CLIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def repo(isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/repo, the working directory: promptsync.yaml for the in-process server, project
    demo, and an empty prompts/; returns the repository's root."""
    root = tmp_path / "repo"
    make_prompt_repo(root, IN_PROCESS, "demo")
    monkeypatch.chdir(root)
    return root
