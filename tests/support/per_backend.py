"""A module's stream servers, one per database backend, started the first time a test asks.

The live tests whose database path differs (Postgres LISTEN/NOTIFY against SQLite's poll) run
on both backends; the others stay on SQLite. Both kinds share the module's SQLite server, and
the Postgres one starts only if a Postgres test runs (none under `-m "not postgres"`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

from tests.support.app import truncate_postgres
from tests.support.logged_gunicorn import STREAM_ENV, LoggedGunicorn

T = TypeVar("T")

# What a test's `site` fixture passes as params: Postgres marked, so it fails (not skips) in CI.
BACKEND_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class PerBackend(Generic[T]):
    """LoggedGunicorn servers (gthread, one worker) by backend, each set up once by ``make``."""

    def __init__(self, work: Path, make: Callable[[LoggedGunicorn], T],
                 close: Callable[[T], None] = lambda site: None) -> None:
        self.work, self.make, self._close = work, make, close
        self._sites: dict[str, T] = {}
        self._servers: list[LoggedGunicorn] = []

    def get(self, request: pytest.FixtureRequest, backend: str) -> T:
        """The backend's site, its server started and set up on first use."""
        if backend not in self._sites:
            if backend == "postgres":
                url = str(request.getfixturevalue("postgres_url"))
                truncate_postgres(url)  # the session's database: other modules' users and projects
            else:
                url = f"sqlite:///{self.work / 'db.sqlite'}"
            server = LoggedGunicorn(self.work / backend, url, workers=1, env=STREAM_ENV)
            self._servers.append(server)
            server.start()
            self._sites[backend] = self.make(server)
        return self._sites[backend]

    def close(self) -> None:
        """Close every site (``close``) and stop every server started."""
        try:
            for site in self._sites.values():
                self._close(site)
        finally:
            for server in self._servers:
                server.stop()


def site_fixtures(folder: str, make: Callable[[LoggedGunicorn], T],
                  close: Callable[[T], None]) -> tuple[Any, Any, Any]:
    """A module's fixtures `sites` (its PerBackend, servers under a temporary ``folder``),
    `site` (the SQLite server) and `any_site` (each backend's in turn); a module takes them as
    ``sites, site, any_site = site_fixtures(...)``."""

    @pytest.fixture(scope="module")
    def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PerBackend[T]]:
        servers = PerBackend(tmp_path_factory.mktemp(folder), make, close)
        try:
            yield servers
        finally:
            servers.close()

    @pytest.fixture
    def site(request: pytest.FixtureRequest, sites: PerBackend[T]) -> T:
        """The SQLite server: for what the database does not change."""
        return sites.get(request, "sqlite")

    @pytest.fixture(params=BACKEND_PARAMS)
    def any_site(request: pytest.FixtureRequest, sites: PerBackend[T]) -> T:
        """Each backend's server in turn: for what rides on how events reach the stream
        (Postgres LISTEN/NOTIFY, SQLite's poll) and on the replay."""
        return sites.get(request, request.param)

    return sites, site, any_site
