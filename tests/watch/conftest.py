"""What the watch tests share: a folder outside /tmp, where editors save as users see them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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
