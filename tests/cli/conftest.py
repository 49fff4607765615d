"""What every CLI test shares: none of the machine user's promptsync settings, and the app
in-process on SQLite with a session cookie that works over plain http."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.support.shared_apps import SharedApps


@pytest.fixture(autouse=True)
def _no_user_settings(isolated_env: Path) -> None:
    """Every test here runs without the PROMPTSYNC_* variables and credentials of the machine."""


@pytest.fixture
def app(sqlite_url: str, shared_apps: SharedApps, request: pytest.FixtureRequest
        ) -> Iterator[Flask]:
    """The app on one SQLite database, replacing the root `app` (so `account` uses it too); its
    session cookie is not Secure-only, since `promptsync login` talks to http://testserver."""
    with shared_apps.lend(sqlite_url, request.node, SESSION_COOKIE_SECURE=False) as application:
        yield application
