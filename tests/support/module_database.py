"""A migrated, empty database of the backend a fixture is parametrized with, for fixtures that
keep one app for a module (or build their own app) rather than borrow a kept one."""

from __future__ import annotations

import shutil

import pytest


def backend_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                folder: str) -> str:
    """The URL of an empty, migrated database on ``request.param`` ("sqlite" or "postgres"):
    SQLite a copy of the session's template in a new folder named after ``folder``, Postgres the
    session's database with every table emptied (other modules' rows gone)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp(folder) / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = str(request.getfixturevalue("postgres_url"))
    request.getfixturevalue("shared_apps").empty_postgres(url)
    return url
