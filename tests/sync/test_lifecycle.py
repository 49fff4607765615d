"""sync/lifecycle.py and the CLI around it, against the real app in-process: the edges of archiving
and removing that the end-to-end tests do not reach (races, outages, --force, folders)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.errors import ApiError, ServerUnreachable
from promptsync.protocol import PushOutcome
from promptsync.sync.engine import SyncEngine
from promptsync.sync.plan import Status
from promptsync.sync.pull import PullOutcome
from tests.support.app import IN_PROCESS, Account
from tests.support.cli import run_cli
from tests.support.live import prompt_source, write_files

OLD = prompt_source("Goodbye {{ name }}.")
OTHER = prompt_source("Hello {{ name }}.")


class Outage(httpx.BaseTransport):
    """The app over WSGI; every DELETE is refused at the connection while ``down``."""

    def __init__(self, app: Flask) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method == "DELETE":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)


@pytest.fixture
def app(sqlite_app: Flask) -> Flask:
    """One backend is enough here: `app`, and so `account`, are the SQLite app."""
    return sqlite_app


@pytest.fixture
def transport(app: Flask) -> Outage:
    return Outage(app)


@pytest.fixture
def engine(repo: Path, account: Account, transport: Outage) -> SyncEngine:
    """A repo with support/old and support/keep pushed at v1."""
    write_files(repo / "prompts", {"support/old.yaml": OLD, "support/keep.yaml": OTHER})
    synced = SyncEngine(read_repo_config(repo),
                        ApiClient(IN_PROCESS, account.keys["editor"], transport=transport),
                        account.project)
    assert synced.push(synced.plan()).ok
    return synced


@pytest.fixture
def admin(app: Flask, account: Account) -> ApiClient:
    return ApiClient(IN_PROCESS, account.keys["admin"], transport=httpx.WSGITransport(app=app))


def test_a_prompt_archived_between_plan_and_push_counts_as_archived(
    engine: SyncEngine, admin: ApiClient, account: Account
) -> None:
    (engine.dir / "support/old.yaml").unlink()
    plan = engine.plan()
    admin.archive(account.project, "support/old")  # a colleague was quicker: 404 for us
    report = engine.push(plan)
    assert [(r.slug, r.outcome) for r in report.results] == [
        ("support/old", PushOutcome.ARCHIVED)]
    assert engine.plan().out_of_sync == []


def test_an_outage_while_archiving_stops_the_push_and_the_next_one_archives(
    engine: SyncEngine, transport: Outage
) -> None:
    (engine.dir / "support/old.yaml").unlink()
    transport.down = True
    report = engine.push(engine.plan())
    assert isinstance(report.error, ServerUnreachable) and report.results == []
    assert [a.status for a in engine.plan().out_of_sync] == [Status.DELETED]
    transport.down = False
    assert [r.outcome for r in engine.push(engine.plan()).results] == [PushOutcome.ARCHIVED]


def test_pull_force_removes_an_edited_file_and_only_the_folders_it_empties(
    engine: SyncEngine, admin: ApiClient, account: Account
) -> None:
    write_files(engine.dir, {"support/notes.txt": "not a prompt"})
    write_files(engine.dir, {"deep/er/gone.yaml": OLD + "# mine\n"})
    assert engine.push(engine.plan()).ok
    for slug in ("support/old", "deep/er/gone"):
        admin.archive(account.project, slug)
    (engine.dir / "deep/er/gone.yaml").write_text(OLD + "# edited again\n")
    refused = engine.pull(engine.plan())
    assert {r.slug: r.outcome for r in refused.results} == {
        "deep/er/gone": PullOutcome.REFUSED, "support/old": PullOutcome.REMOVED}
    assert (engine.dir / "deep/er/gone.yaml").exists()
    forced = engine.pull(engine.plan(), force=True)
    assert [(r.slug, r.outcome) for r in forced.results] == [
        ("deep/er/gone", PullOutcome.REMOVED)]
    assert not (engine.dir / "deep").exists()  # emptied folders go, as git keeps none
    assert (engine.dir / "support/notes.txt").exists()
    assert sorted(p.name for p in engine.dir.rglob("*.yaml")) == ["keep.yaml"]
    assert engine.plan().out_of_sync == []


def test_a_file_changed_between_plan_and_pull_is_not_removed(
    engine: SyncEngine, admin: ApiClient, account: Account
) -> None:
    admin.archive(account.project, "support/old")
    plan = engine.plan()
    (engine.dir / "support/old.yaml").write_text(OLD + "# just saved\n")
    report = engine.pull(plan)
    (result,) = report.results
    assert result.outcome == PullOutcome.REFUSED and "changed while pulling" in result.detail
    assert (engine.dir / "support/old.yaml").read_text() == OLD + "# just saved\n"


def test_pull_force_brings_back_a_deleted_file(engine: SyncEngine) -> None:
    (engine.dir / "support/old.yaml").unlink()
    assert engine.pull(engine.plan()).results == []  # without --force: push archives it
    report = engine.pull(engine.plan(), force=True)
    assert [r.outcome for r in report.results] == [PullOutcome.PULLED]
    assert (engine.dir / "support/old.yaml").read_text() == OLD


def test_a_rename_under_a_protected_label_is_refused_by_push_with_what_to_do(
    engine: SyncEngine, admin: ApiClient, account: Account, app: Flask
) -> None:
    admin.set_label(account.project, "support/old", "production", 1)
    (engine.dir / "support/old.yaml").rename(engine.dir / "support/bye.yaml")
    result = run_cli(httpx.WSGITransport(app=app), "push", api_key=account.keys["editor"])
    assert result.exit_code == 1, result.output
    # (The app's own access log goes to the same stderr in-process: read the CLI's lines.)
    (refused,) = [line for line in result.stderr.splitlines() if line.startswith("refused:")]
    assert refused.startswith("refused: support/bye: not renamed from support/old: ")
    assert "a protected label points at it: an admin moves or removes that label" in refused
    status = run_cli(httpx.WSGITransport(app=app), "status", api_key=account.keys["editor"])
    assert status.stdout.startswith("renamed   support/bye")  # nothing changed: still to do
    with pytest.raises(ApiError) as missing:
        admin.get_version(account.project, "support/bye")
    assert missing.value.status == 404
