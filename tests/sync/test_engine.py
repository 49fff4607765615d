"""Tests for promptsync.sync.engine, push, pull and gitinfo against the real app in-process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.errors import ServerUnreachable
from promptsync.protocol import PushOutcome
from promptsync.sync.engine import SyncEngine
from promptsync.sync.plan import Plan, Remote, Status, make_plan
from promptsync.sync.pull import apply_pull
from promptsync.sync.push import PushReport
from promptsync.sync.state import Entry, SyncState
from tests.support.app import IN_PROCESS, Account
from tests.support.live import prompt_source, write_files

SERVER = IN_PROCESS


class Recorder(httpx.BaseTransport):
    """A WSGI transport that records requests and can fail after the server answered."""

    def __init__(self, app: Flask) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.requests: list[tuple[str, str]] = []
        self.fail_after: Callable[[httpx.Request], bool] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.requests.append((request.method, request.url.path))
        if self.fail_after is not None and self.fail_after(request):
            self.fail_after = None
            # The server has stored the upload; we never hear about it.
            raise httpx.ReadError("connection lost", request=request)
        return response


@pytest.fixture
def app(sqlite_app: Flask) -> Flask:
    """One backend is enough here: `app`, and so `account`, are the SQLite app."""
    return sqlite_app


@pytest.fixture
def transport(app: Flask) -> Recorder:
    return Recorder(app)


def engine_for(repo: Path, account: Account, transport: httpx.BaseTransport,
               role: str = "editor") -> SyncEngine:
    api = ApiClient(SERVER, account.keys[role], transport=transport)
    return SyncEngine(read_repo_config(repo), api, account.project)


def test_push_then_in_sync_with_one_manifest_call_and_one_batch(
    repo: Path, account: Account, transport: Recorder
) -> None:
    write_files(repo / "prompts", {f"p/n{i}.yaml": prompt_source(f"v{i} {{{{ name }}}}")
                                      for i in range(30)})
    engine = engine_for(repo, account, transport)
    plan = engine.plan()
    assert transport.requests == [("GET", "/api/v1/projects/demo/prompts")]
    assert len(plan.with_status(Status.NEW)) == 30
    report = engine.push(plan, message="first")
    assert report.ok, report
    assert transport.requests[1:] == [("POST", "/api/v1/projects/demo/prompts")]
    assert {r.outcome for r in report.results} == {"created"}
    again = engine_for(repo, account, transport).plan()
    assert again.out_of_sync == []
    assert SyncState.load(repo / ".promptsync", SERVER, "demo").get("p/n3").version == 1


def test_stale_base_is_rejected_and_force_overwrites(
    repo: Path, account: Account, transport: Recorder
) -> None:
    prompts = repo / "prompts"
    write_files(prompts, {"a.yaml": prompt_source("one {{ name }}")})
    engine = engine_for(repo, account, transport)
    assert engine.push(engine.plan()).ok
    other = ApiClient(SERVER, account.keys["editor"], transport=transport)
    other.push("demo", "a", prompt_source("theirs {{ name }}"), parent_version=1)
    write_files(prompts, {"a.yaml": prompt_source("mine {{ name }}")})
    plan = engine.plan()
    assert [a.status for a in plan.actions] == [Status.CONFLICT]
    report = engine.push(plan)
    assert not report.ok
    assert report.results[0].outcome == PushOutcome.CONFLICT
    assert (report.results[0].base_version, report.results[0].latest_version) == (1, 2)
    forced = engine.push(plan, force=True)
    assert forced.ok and forced.results[0].version == 3


def test_server_side_409_when_the_manifest_was_stale(
    repo: Path, account: Account, transport: Recorder
) -> None:
    write_files(repo / "prompts", {"a.yaml": prompt_source("one {{ name }}")})
    engine = engine_for(repo, account, transport)
    engine.push(engine.plan())
    write_files(repo / "prompts", {"a.yaml": prompt_source("mine {{ name }}")})
    plan = engine.plan()  # says "modified", based on v1
    ApiClient(SERVER, account.keys["editor"], transport=transport).push(
        "demo", "a", prompt_source("theirs {{ name }}"))
    report = engine.push(plan)
    assert report.results[0].outcome == PushOutcome.CONFLICT
    assert report.results[0].latest_version == 2


def test_crash_after_the_server_stored_it_creates_no_duplicate(
    repo: Path, account: Account, transport: Recorder
) -> None:
    prompts = repo / "prompts"
    write_files(prompts, {"a.yaml": prompt_source("one {{ name }}")})
    engine = engine_for(repo, account, transport)
    assert engine.push(engine.plan()).ok
    write_files(prompts, {"a.yaml": prompt_source("two {{ name }}")})
    transport.fail_after = lambda r: r.method == "POST"
    report = engine.push(engine.plan())
    assert isinstance(report.error, ServerUnreachable)
    state = SyncState.load(repo / ".promptsync", SERVER, "demo")
    assert [p.slug for p in state.journal] == ["a"]  # written before sending, never acked
    assert state.get("a").version == 1
    # Meanwhile the user edits again: the journal proves v2 was ours, so this is no conflict.
    write_files(prompts, {"a.yaml": prompt_source("three {{ name }}")})
    engine = engine_for(repo, account, transport)
    plan = engine.plan()
    assert [(a.status, a.base_version) for a in plan.actions] == [(Status.MODIFIED, 2)]
    assert engine.push(plan).results[0].version == 3
    versions = ApiClient(SERVER, account.keys["viewer"], transport=transport).versions("demo", "a")
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert SyncState.load(repo / ".promptsync", SERVER, "demo").journal == []


def test_a_large_push_sends_chunks_in_parallel_and_writes_the_state_once(
    repo: Path, account: Account, transport: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from promptsync.sync import push, state

    monkeypatch.setattr(push, "BATCH_LIMIT", 10)
    files = {f"t{i % 4}/n{i:02d}.yaml": prompt_source(f"v{i} {{{{ name }}}}") for i in range(35)}
    write_files(repo / "prompts", files)
    in_flight, most, lock = [0], [0], threading.Lock()
    real = transport.handle_request

    def handle(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(0.05 if request.method == "POST" else 0)
            return real(request)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(transport, "handle_request", handle)
    saves: list[int] = []
    real_write = state.atomic_write
    def counted_write(path: Path, data: bytes) -> None:
        saves.append(len(data))
        real_write(path, data)

    monkeypatch.setattr(state, "atomic_write", counted_write)
    posts = [0]

    def lose_the_second_answer(request: httpx.Request) -> bool:
        posts[0] += request.method == "POST"
        return posts[0] == 2

    transport.fail_after = lose_the_second_answer
    engine = engine_for(repo, account, transport)
    report = engine.push(engine.plan())
    assert isinstance(report.error, ServerUnreachable)
    assert most[0] == push.UPLOAD_THREADS  # two chunks in flight at once
    assert len(saves) == 2  # the journal before sending, the results once at the end
    left = SyncState.load(repo / ".promptsync", SERVER, "demo")
    assert 0 < len(left.journal) < 35 and len(left.entries) + len(left.journal) == 35
    assert [r.slug for r in report.results] == sorted(r.slug for r in report.results)
    again = engine_for(repo, account, transport)
    assert again.push(again.plan()).ok
    assert engine_for(repo, account, transport).plan().out_of_sync == []
    api = ApiClient(SERVER, account.keys["viewer"], transport=transport)
    assert {m["version"] for m in api.manifest("demo")} == {1}  # nothing stored twice
    assert len(api.manifest("demo")) == 35


def test_invalid_files_are_reported_and_valid_ones_still_push(
    repo: Path, account: Account, transport: Recorder
) -> None:
    write_files(repo / "prompts", {"good.yaml": prompt_source(), "bad.yaml": "template: [\n",
                                      "Bad.yaml": prompt_source()})
    engine = engine_for(repo, account, transport)
    report = engine.push(engine.plan())
    outcomes = {r.slug: r.outcome for r in report.results}
    assert outcomes == {"good": "created", "bad": "invalid", "Bad.yaml": "invalid"}
    bad = next(r for r in report.results if r.slug == "bad")
    assert bad.problems and bad.problems[0].line is not None


def test_pull_writes_new_and_changed_files_and_refuses_local_edits(
    repo: Path, account: Account, transport: Recorder
) -> None:
    prompts = repo / "prompts"
    write_files(prompts, {"a.yaml": prompt_source("one {{ name }}"),
                          "b.yml": prompt_source("bee {{ name }}")})
    engine = engine_for(repo, account, transport)
    engine.push(engine.plan())
    other = ApiClient(SERVER, account.keys["editor"], transport=transport)
    theirs = "# a comment, kept byte for byte\r\n" + prompt_source("two {{ name }}")
    other.push("demo", "a", theirs)
    other.push("demo", "b", prompt_source("bee two {{ name }}"))
    other.push("demo", "deep/new/c", prompt_source("new {{ name }}"))
    write_files(prompts, {"b.yml": prompt_source("my edit {{ name }}")})
    report = engine.pull(engine.plan())
    outcomes = {r.slug: (r.outcome, r.version) for r in report.results}
    assert outcomes == {"a": ("pulled", 2), "b": ("refused", None), "deep/new/c": ("pulled", 1)}
    assert (prompts / "a.yaml").read_bytes() == theirs.encode()
    assert (prompts / "deep/new/c.yaml").exists()
    assert "local changes" in next(r.detail for r in report.results if r.slug == "b")
    assert not report.ok
    assert [(a.slug, a.status) for a in engine.plan().out_of_sync] == [("b", Status.CONFLICT)]
    forced = engine.pull(engine.plan(), force=True)
    assert forced.ok and (prompts / "b.yml").read_text() == prompt_source("bee two {{ name }}")
    assert engine.plan().out_of_sync == []
    leftovers = [p.name for p in prompts.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def _moved_past(repo: Path, account: Account, transport: Recorder) -> SyncEngine:
    """prompts/a.yaml pushed as v1 ("one"), then v2 ("two") pushed by another client."""
    write_files(repo / "prompts", {"a.yaml": prompt_source("one {{ name }}")})
    engine = engine_for(repo, account, transport)
    engine.push(engine.plan())
    ApiClient(SERVER, account.keys["editor"], transport=transport).push(
        "demo", "a", prompt_source("two {{ name }}"))
    return engine


def test_pull_of_a_broken_local_edit_the_server_moved_past(
    repo: Path, account: Account, transport: Recorder
) -> None:
    # The file broken here (invalid YAML) and the prompt changed on the server: pull said
    # "already up to date" and pull --force left the broken file, though it is a conflict.
    prompts = repo / "prompts"
    engine = _moved_past(repo, account, transport)
    write_files(prompts, {"a.yaml": "template: [broken\n"})
    report = engine.pull(engine.plan())
    assert [(r.slug, r.outcome) for r in report.results] == [("a", "refused")]
    assert "v2" in report.results[0].detail and "--force" in report.results[0].detail
    assert (prompts / "a.yaml").read_text() == "template: [broken\n"
    assert engine.pull(engine.plan(), force=True).ok
    assert (prompts / "a.yaml").read_text() == prompt_source("two {{ name }}")
    assert engine.plan().out_of_sync == []
    # A broken edit of a prompt the server did not change is no pull's business.
    write_files(prompts, {"a.yaml": "template: [broken again\n"})
    assert engine.pull(engine.plan()).results == []


def test_pull_records_the_hash_before_the_rename(
    repo: Path, account: Account, transport: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _moved_past(repo, account, transport)
    seen: list[Entry | None] = []

    def crash(target: Path, body: bytes, expected: str | None, *, force: bool) -> None:
        seen.append(SyncState.load(repo / ".promptsync", SERVER, "demo").get("a"))
        raise KeyboardInterrupt  # the process dies before the rename

    monkeypatch.setattr("promptsync.sync.pull.write_file", crash)
    plan = engine.plan()
    with pytest.raises(KeyboardInterrupt):
        apply_pull(plan, engine.state, engine.api, "demo", engine.dir)  # type: ignore[arg-type]
    assert seen[0] is not None and seen[0].version == 2  # on disk before the write started
    monkeypatch.undo()
    # The file still holds v1: it is "behind", not a local edit to push over v2.
    again = engine_for(repo, account, transport).plan()
    assert [(a.status, a.base_version) for a in again.actions] == [(Status.BEHIND, 1)]


def _many(count: int, word: str) -> dict[str, str]:
    return {f"team{i % 3}/p{i:02d}.yaml": prompt_source(f"{word} {i} {{{{ name }}}}")
            for i in range(count)}


def _many_behind(
    repo: Path, account: Account, transport: Recorder, count: int
) -> tuple[SyncEngine, ApiClient]:
    """Push ``count`` prompts, then have another client push a second version of each."""
    write_files(repo / "prompts", _many(count, "one"))
    engine = engine_for(repo, account, transport)
    engine.push(engine.plan())
    other = ApiClient(SERVER, account.keys["editor"], transport=transport)
    for relpath, source in _many(count, "two").items():
        other.push("demo", relpath.removesuffix(".yaml"), source)
    return engine, other


@pytest.mark.parametrize("has_syncfs", [True, False])
def test_a_large_pull_flushes_once_not_per_file(
    repo: Path, account: Account, transport: Recorder, monkeypatch: pytest.MonkeyPatch,
    has_syncfs: bool,
) -> None:
    from promptsync import fsutil
    from promptsync.sync.pull import BATCH_WRITE_FROM

    count = BATCH_WRITE_FROM + 5
    prompts = repo / "prompts"
    engine, other = _many_behind(repo, account, transport, count)
    other.push("demo", "fresh/new", prompt_source("new {{ name }}"))
    (prompts / "team0/p03.yaml").write_text(prompt_source("my edit {{ name }}"))
    if not has_syncfs:
        monkeypatch.setattr(fsutil, "_SYNCFS", None)  # not Linux: an fsync per temp file
    fsyncs: list[int] = []
    real_fsync = os.fsync
    def counted_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(fsutil.os, "fsync", counted_fsync)

    report = engine.pull(engine.plan())

    outcomes = [(r.slug, r.outcome) for r in report.results]
    assert ("team0/p03", "refused") in outcomes  # a local edit is never overwritten
    assert sum(o == "pulled" for _, o in outcomes) == count
    if has_syncfs:
        assert len(fsyncs) <= 6  # the state twice (file + folder each), not 2 per prompt
    for relpath, source in {**_many(count, "two"), "fresh/new.yaml": ""}.items():
        if relpath != "team0/p03.yaml" and source:
            assert (prompts / relpath).read_text() == source
    assert (prompts / "team0/p03.yaml").read_text() == prompt_source("my edit {{ name }}")
    assert [p.name for p in prompts.rglob("*.tmp")] == []
    monkeypatch.undo()
    again = engine_for(repo, account, transport).plan()
    assert [(a.slug, a.status) for a in again.out_of_sync] == [("team0/p03", Status.CONFLICT)]


def test_a_large_pull_killed_between_renames_is_recognised(
    repo: Path, account: Account, transport: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptsync import fsutil
    from promptsync.sync.pull import BATCH_WRITE_FROM

    count = BATCH_WRITE_FROM + 5
    prompts = repo / "prompts"
    engine, _ = _many_behind(repo, account, transport, count)
    real_replace = os.replace
    renamed: list[str] = []

    def replace(src: str, dst: str) -> None:
        if Path(dst).suffix == ".yaml":
            if len(renamed) == count // 2:
                raise KeyboardInterrupt  # the process dies half way through the renames
            renamed.append(str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(fsutil.os, "replace", replace)
    plan = engine.plan()
    with pytest.raises(KeyboardInterrupt):
        apply_pull(plan, engine.state, engine.api, "demo", engine.dir)  # type: ignore[arg-type]
    monkeypatch.undo()
    assert [p.name for p in prompts.rglob("*.tmp")] == []  # temps of the rest removed
    # Renamed files are in sync at v2, the others still v1 and behind: nothing to push.
    again = engine_for(repo, account, transport).plan()
    behind = again.with_status(Status.BEHIND)
    assert len(behind) == count - len(renamed) and all(a.base_version == 1 for a in behind)
    assert again.with_status(Status.MODIFIED, Status.CONFLICT, Status.NEW) == []
    engine = engine_for(repo, account, transport)
    assert engine.pull(engine.plan()).ok
    assert engine_for(repo, account, transport).plan().out_of_sync == []
    for relpath, source in _many(count, "two").items():
        assert (prompts / relpath).read_text() == source


def sync_paths(engine: SyncEngine, paths: list[Path]) -> PushReport:
    """Push the given changed files without a manifest call, from the engine's public parts: the
    server is assumed where the state says, and the parent_version sent makes it refuse (409)
    if it moved meanwhile."""
    scanned, selection = engine.scan(paths)
    entries = engine.reload().entries
    assumed = {slug: Remote(e.version, e.sha256) for slug, e in entries.items() if e.version > 0}
    plan = make_plan(scanned, entries, assumed, selection=selection)
    todo = Plan(plan.with_status(Status.NEW, Status.MODIFIED, Status.INVALID))
    return engine.push(todo) if todo.actions else PushReport([])


def test_sync_paths_pushes_only_changed_files_without_a_manifest(
    repo: Path, account: Account, transport: Recorder
) -> None:
    prompts = repo / "prompts"
    write_files(prompts, {"a.yaml": prompt_source("one {{ name }}"), "b.yaml": prompt_source()})
    engine = engine_for(repo, account, transport)
    engine.push(engine.plan())
    write_files(prompts, {"a.yaml": prompt_source("two {{ name }}")})
    before = len(transport.requests)
    report = sync_paths(engine, [prompts / "a.yaml", prompts / "b.yaml"])
    assert [(r.slug, r.outcome, r.version) for r in report.results] == [("a", "created", 2)]
    assert transport.requests[before:] == [("POST", "/api/v1/projects/demo/prompts")]
    assert sync_paths(engine, [prompts / "a.yaml"]).results == []  # our own write: skipped
    (prompts / "b.yaml").write_text("template: [\n")
    invalid = sync_paths(engine, [prompts / "b.yaml"])
    assert [r.outcome for r in invalid.results] == ["invalid"]


def test_reconcile_pushes_and_pulls(repo: Path, account: Account, transport: Recorder) -> None:
    prompts = repo / "prompts"
    write_files(prompts, {"mine.yaml": prompt_source()})
    ApiClient(SERVER, account.keys["editor"], transport=transport).push(
        "demo", "theirs", prompt_source("t {{ name }}"))
    engine = engine_for(repo, account, transport)
    plan = engine.plan()
    pushed, pulled = engine.push(plan), engine.pull(plan)
    assert [r.slug for r in pushed.results] == ["mine"]
    assert [r.slug for r in pulled.results] == ["theirs"]
    assert (prompts / "theirs.yaml").exists()
    again = engine_for(repo, account, transport)
    assert again.pull(Plan(again.plan().with_status(Status.BEHIND))).results == []


def test_git_provenance_and_default_message(
    repo: Path, account: Account, transport: Recorder
) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True)

    git("init", "-q", "-b", "main")
    write_files(repo / "prompts", {"a.yaml": prompt_source(), "b.yaml": prompt_source()})
    git("add", ".")
    git("commit", "-q", "-m", "Add greeting prompts")
    write_files(repo / "prompts", {"b.yaml": prompt_source("edited {{ name }}")})
    engine = engine_for(repo, account, transport)
    assert engine.push(engine.plan()).ok
    api = ApiClient(SERVER, account.keys["viewer"], transport=transport)
    a, b = api.get_version("demo", "a"), api.get_version("demo", "b")
    assert a is not None and b is not None
    assert a["message"] == "Add greeting prompts"
    assert a["git"]["branch"] == "main" and len(a["git"]["commit"]) == 40
    assert a["git"]["path"] == "prompts/a.yaml" and a["git"]["dirty"] is False
    assert b["git"]["dirty"] is True


def test_dry_run_sends_nothing(repo: Path, account: Account, transport: Recorder) -> None:
    write_files(repo / "prompts", {"a.yaml": prompt_source()})
    engine = engine_for(repo, account, transport)
    report = engine.push(engine.plan(), dry_run=True)
    assert [(r.slug, r.outcome) for r in report.results] == [("a", "would push")]
    assert [m for m, _ in transport.requests] == ["GET"]
    assert SyncState.load(repo / ".promptsync", SERVER, "demo").journal == []
