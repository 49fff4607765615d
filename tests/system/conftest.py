"""What the end-to-end tests share: a real server process, on SQLite and on Postgres in turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """`flask run` on a loopback port, over a fresh SQLite file or the session's Postgres."""
    url = None
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = request.getfixturevalue("postgres_url")  # a throwaway, migrated database
    with LiveServer(tmp_path / "server", database_url=url) as live:
        yield live


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[LiveServer]:
    """`server`, started once per module and backend: for tests that make users and projects of
    their own (unique names), which then share it, saving a server start and a migration each."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with LiveServer(tmp_path_factory.mktemp("server"), database_url=url) as live:
        yield live
