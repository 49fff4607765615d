"""`git mv` or `rm` of a partial others include, then `promptsync push` (the real app in-process):
the server refuses the rename or the archive (409 included), push says so in one sentence that
names the includers and what to do, nothing is lost, and status explains before and after."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.sync.engine import SyncEngine
from tests.support.app import IN_PROCESS, Account
from tests.support.cli import run_cli
from tests.support.live import write_files

STYLE = "template: Keep it short.\n"
APP = "template: 'Answer. {{> shared/style }}'\n"


@pytest.fixture
def app(sqlite_app: Flask) -> Flask:
    """One backend is enough here (the server side runs on both in tests/server)."""
    return sqlite_app


@pytest.fixture
def repo_synced(repo: Path, account: Account, app: Flask) -> Path:
    """A repo with shared/style and support/app (which includes it) pushed at v1."""
    write_files(repo / "prompts", {"shared/style.yaml": STYLE, "support/app.yaml": APP})
    engine = SyncEngine(read_repo_config(repo), ApiClient(
        IN_PROCESS, account.keys["editor"], transport=httpx.WSGITransport(app=app)),
        account.project)
    assert engine.push(engine.plan()).ok
    return repo / "prompts"


def cli(app: Flask, account: Account, *args: str) -> tuple[int, str, list[str]]:
    result = run_cli(httpx.WSGITransport(app=app), *args, api_key=account.keys["editor"])
    # (The app's own access log goes to the same stderr in-process: keep the CLI's lines.)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("127.0.0.1")]
    return result.exit_code, result.stdout, lines


def refused_push(app: Flask, account: Account) -> str:
    """`promptsync push` that fails (exit 1) with exactly one 'refused:' line: that line."""
    code, _, err = cli(app, account, "push")
    assert code == 1, err
    (refused,) = [line for line in err if line.startswith("refused:")]
    return refused


def render(app: Flask, account: Account) -> str:
    answer = app.test_client().post(
        f"/api/v1/projects/{account.project}/prompts/support/app/-/render",
        json={"variables": {}}, headers=account.headers("viewer"))
    return str(answer.get_json()["text"])


def test_git_mv_of_an_included_partial_is_refused_by_push(
        repo_synced: Path, account: Account, app: Flask) -> None:
    (repo_synced / "shared/style.yaml").rename(repo_synced / "shared/tone.yaml")
    code, out, _ = cli(app, account, "status")
    assert out.startswith("renamed   shared/tone")
    assert ("(but support/app include shared/style: the server refuses to rename it while "
            "they do)") in out

    assert refused_push(app, account) == (
        "refused: shared/tone: not renamed from shared/style: Cannot rename 'shared/style': it "
        "is included by 'support/app' (latest v1); keep 'shared/style' until nothing includes "
        "it: push the new name beside it, point the includes at the new name, then delete "
        "'shared/style'.")
    # Nothing lost: the moved file is still here, the server still has the partial, and the
    # includer renders as before; status still shows the rename to do.
    assert (repo_synced / "shared/tone.yaml").read_text() == STYLE
    assert render(app, account) == "Answer. Keep it short."
    code, out, _ = cli(app, account, "status")
    assert out.startswith("renamed   shared/tone")

    # The way the refusal points to: both names, the include moved, then the old file goes.
    (repo_synced / "shared/style.yaml").write_text(STYLE)
    (repo_synced / "support/app.yaml").write_text(APP.replace("shared/style", "shared/tone"))
    assert cli(app, account, "push")[0] == 0
    (repo_synced / "shared/style.yaml").unlink()
    code, _, err = cli(app, account, "push")
    assert code == 0, err
    assert "shared/style: archived" in err
    assert render(app, account) == "Answer. Keep it short."


def test_rm_of_an_included_partial_is_refused_by_push(
        repo_synced: Path, account: Account, app: Flask) -> None:
    (repo_synced / "shared/style.yaml").unlink()
    code, out, _ = cli(app, account, "status")
    assert "(but support/app include shared/style: the server refuses to archive it" in out
    assert refused_push(app, account) == (
        "refused: shared/style: not archived: Cannot archive 'shared/style': it is included "
        "by 'support/app' (latest v1); remove the includes first ({{> shared/style }}); or "
        "restore the file.")
    assert render(app, account) == "Answer. Keep it short."
