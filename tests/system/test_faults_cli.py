"""The CLI on a full or read-only disk: one line saying so, nothing lost, the next run completes.

Tests run as root, for whom chmod blocks nothing, so the fault is injected at the one seam
every write goes through: ``os.replace`` in promptsync.fsutil.atomic_write, failing only for
targets inside the chosen folder.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from flask import Flask

from promptsync import fsutil
from promptsync.client.api import ApiClient
from tests.support.app import IN_PROCESS, Account
from tests.support.cli import run_cli
from tests.support.live import prompt_source, write_files

SERVER = IN_PROCESS
FAULTS = {errno.ENOSPC: "No space left on device", errno.EROFS: "Read-only file system"}


@pytest.fixture
def app(sqlite_app: Flask) -> Flask:
    """One backend is enough here: `app`, and so `account`, are the SQLite app."""
    return sqlite_app


def _run(app: Flask, account: Account, *args: str) -> Result:
    return run_cli(httpx.WSGITransport(app=app), *args, api_key=account.keys["editor"])


def _fail_writes_into(folder: Path, code: int, monkeypatch: pytest.MonkeyPatch
                      ) -> Callable[[], None]:
    """Make every atomic write into ``folder`` fail with ``code``; returns the undo."""
    real = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst).resolve().is_relative_to(folder.resolve()):
            raise OSError(code, os.strerror(code), str(dst))
        real(src, dst, *args, **kwargs)

    monkeypatch.setattr(fsutil.os, "replace", replace)
    return lambda: monkeypatch.setattr(fsutil.os, "replace", real)


def _versions(app: Flask, account: Account, slug: str) -> list[int]:
    api = ApiClient(SERVER, account.keys["viewer"], transport=httpx.WSGITransport(app=app))
    with api:
        return sorted(v["version"] for v in api.versions("demo", slug))


def _one_line_error(result: Result, words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], result.stderr


@pytest.mark.parametrize("code", list(FAULTS))
def test_push_with_an_unwritable_state_dir(
    app: Flask, account: Account, repo: Path, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"p{i}.yaml": prompt_source(f"n{i} {{{{ name }}}}") for i in range(5)}
    write_files(repo / "prompts", files)
    undo = _fail_writes_into(repo / ".promptsync", code, monkeypatch)

    result = _run(app, account, "push")

    _one_line_error(result, FAULTS[code])
    assert ".promptsync" in result.stderr
    undo()
    for name, text in files.items():  # nothing lost on disk
        assert (repo / "prompts" / name).read_text() == text
    again = _run(app, account, "push")
    assert again.exit_code == 0, again.output
    status = _run(app, account, "status", "--exit-code")
    assert status.exit_code == 0, status.output
    for i in range(5):  # exactly one version each, whatever reached the server the first time
        assert _versions(app, account, f"p{i}") == [1]


@pytest.mark.parametrize("code", list(FAULTS))
def test_pull_with_an_unwritable_prompts_dir_or_state_dir(
    app: Flask, account: Account, repo: Path, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(repo / "prompts", {"a.yaml": prompt_source("one {{ name }}")})
    assert _run(app, account, "push").exit_code == 0
    api = ApiClient(SERVER, account.keys["editor"], transport=httpx.WSGITransport(app=app))
    with api:
        api.push("demo", "a", prompt_source("two {{ name }}"), parent_version=1)
        api.push("demo", "b", prompt_source("bee {{ name }}"))
    for folder in (repo / "prompts", repo / ".promptsync"):
        undo = _fail_writes_into(folder, code, monkeypatch)
        result = _run(app, account, "pull")
        undo()
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert FAULTS[code] in result.stderr and len(result.stderr.strip().splitlines()) <= 2
        assert (repo / "prompts" / "a.yaml").read_text() == prompt_source("one {{ name }}")
        status = _run(app, account, "status")  # still behind: nothing claimed as pulled
        assert status.exit_code == 0 and "behind" in status.stdout, status.output
    pulled = _run(app, account, "pull")
    assert pulled.exit_code == 0, pulled.output
    assert (repo / "prompts" / "a.yaml").read_text() == prompt_source("two {{ name }}")
    assert (repo / "prompts" / "b.yaml").read_text() == prompt_source("bee {{ name }}")
