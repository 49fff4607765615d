"""What the watch tests share: a folder outside /tmp, where editors save as users see them, and
a live stack (server, repo, daemon) in it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.support.app import make_account
from tests.support.waiting import no_thread_leaks
from tests.support.watch_rig import Rig
from tests.support.watch_stack import Stack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A fresh folder under test-artifacts/, removed afterwards: vim and emacs skip their backups
    under /tmp, so only outside it do they rename and re-create files as on a user's machine."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="watch-", dir=ARTIFACTS))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["outside-tmp"])  # one case, named so the test ids say where it ran
def base(outside_tmp: Path) -> Path:
    """A directory outside /tmp, where editors make their backups as users see them."""
    return outside_tmp


@pytest.fixture
def stack(base: Path, sqlite_app: Flask) -> Iterator[Stack]:
    """A live server, a repo with a.yaml at v1 and a way to start a real daemon over it."""
    account = make_account(sqlite_app)
    with no_thread_leaks(grace=5.0):
        live = Stack(base / "repo", sqlite_app, account)
        try:
            yield live
        finally:
            live.close()


@pytest.fixture
def rig(tmp_path: Path, sqlite_app: Flask) -> Iterator[Rig]:
    """A watch daemon over the app in-process, reconciled with an empty project."""
    test = Rig(tmp_path / "repo", sqlite_app, make_account(sqlite_app))
    test.daemon.step()
    yield test
    test.close()
