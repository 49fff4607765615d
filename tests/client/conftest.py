"""What every client test shares: none of the machine user's promptsync settings, and no
promptsync.yaml up the tree (each test runs in its own empty folder)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_user_settings(isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here sees the PROMPTSYNC_* variables, credentials or working folder of the user."""
    monkeypatch.chdir(tmp_path)
