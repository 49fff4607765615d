"""Fixtures of every area: the real app on real SQLite and Postgres databases, a user with a
project and keys, a prompt repository on disk, and none of the machine user's promptsync settings.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from flask import Flask

from tests.support.app import (
    BACKENDS,
    IN_PROCESS,
    PG_ADMIN_URL,
    Account,
    make_account,
    migrate,
    require_postgres,
    running_app,
    truncate_postgres,
)
from tests.support.environment import CLIENT_VARIABLES
from tests.support.live import make_prompt_repo


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
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        migrate(url)
        yield url
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: SQLite and Postgres in turn."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    truncate_postgres(url)
    return str(url)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """An empty, migrated SQLite database only (for tests that need one backend)."""
    path = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The real app on each backend in turn."""
    with running_app(database_url) as application:
        yield application


@pytest.fixture
def sqlite_app(sqlite_url: str) -> Iterator[Flask]:
    """The real app on one SQLite database (for tests that need one backend)."""
    with running_app(sqlite_url) as application:
        yield application


@pytest.fixture
def account(app: Flask) -> Account:
    """ann@example.com, admin of project 'demo', with keys of every role."""
    return make_account(app)


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
