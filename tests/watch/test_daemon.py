"""Unit tests of the watch daemon and its outbox: the real app in-process (httpx WSGI transport
behind a switch that can play an outage), a fake clock, and no watcher thread: the tests call
on_change / on_rescan / step as the watcher and the sync thread would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.protocol import PushOutcome
from promptsync.sync.engine import SyncEngine
from promptsync.sync.state import Pending, SyncState
from promptsync.watch.daemon import WatchDaemon
from promptsync.watch.outbox import Outbox, next_run
from tests.support.app import Account, make_account
from tests.support.fakes import FakeClock
from tests.support.live import make_prompt_repo, prompt_source

SERVER = "http://testserver"


class Switch(httpx.BaseTransport):
    """The app over WSGI, or a refused connection while ``down``; counts requests."""

    def __init__(self, app: Flask) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.down = False
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return self.inner.handle_request(request)


class Rig:
    """A prompt repo, the app, a daemon over it and everything it logged."""

    def __init__(self, root: Path, app: Flask, account: Account) -> None:
        self.app = app
        self.account = account
        self.prompts = make_prompt_repo(root, SERVER, account.project)
        self.switch = Switch(app)
        self.api = ApiClient(SERVER, account.keys["editor"], transport=self.switch)
        self.other = ApiClient(SERVER, account.keys["editor"], transport=httpx.WSGITransport(
            app=app))
        self.engine = SyncEngine(read_repo_config(root), self.api, account.project, SERVER)
        self.clock = FakeClock()
        self.lines: list[str] = []
        self.daemon = WatchDaemon(self.engine, log=self.lines.append, clock=self.clock,
                                  poll_interval=2.0, backoff=(0.5, 5.0))

    def write(self, relpath: str, text: str) -> Path:
        path = self.prompts / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def save(self, relpath: str, text: str) -> None:
        """A save as the watcher delivers it, then the sync thread's step."""
        self.daemon.on_change([self.write(relpath, text)])
        self.daemon.step()

    def versions(self, slug: str) -> list[str]:
        """Every version's source, oldest first."""
        return [v["source"] for v in reversed(self.other.versions(self.account.project, slug))
                for v in [self.other.get_version(self.account.project, slug, v["version"])]
                if v is not None]

    def state(self) -> SyncState:
        return self.engine.reload()

    def close(self) -> None:
        self.api.close()
        self.other.close()


@pytest.fixture
def rig(tmp_path: Path, sqlite_app: Flask) -> Iterator[Rig]:
    test = Rig(tmp_path / "repo", sqlite_app, make_account(sqlite_app))
    yield test
    test.close()


A = "a.yaml"


def text(n: int) -> str:
    return prompt_source(f"Hello {{{{ name }}}}, save {n}.")


# -- outbox -----------------------------------------------------------------------------------


def test_next_run_takes_one_save_per_prompt_in_order_and_skips_push_entries() -> None:
    journal = [Pending("a", "1", None, None, "a.yaml", source="x"),
               Pending("b", "2", None, None, "b.yaml"),  # a push's entry: no source
               Pending("c", "3", None, None, "c.yaml", source="y"),
               Pending("a", "4", None, None, "a.yaml", source="z"),
               Pending("d", "5", None, None, "d.yaml", source="w")]
    assert [p.sha256 for p in next_run(journal)] == ["1", "3"]
    assert [p.sha256 for p in next_run(journal, limit=1)] == ["1"]


def test_the_journal_keeps_the_source_and_reads_old_entries_without_it(tmp_path: Path) -> None:
    state = SyncState(tmp_path, SERVER, "demo")
    state.journal_add([Pending("a", "1", 0, None, "a.yaml", source="template: x\n"),
                       Pending("b", "2", 0, None, "b.yaml")])
    raw = state.path.read_text()
    assert raw.count('"source"') == 1  # a push's entry is written as it always was
    again = SyncState.load(tmp_path, SERVER, "demo")
    assert [p.source for p in again.journal] == ["template: x\n", None]


def test_resolve_journal_settles_only_the_first_save_of_a_prompt(tmp_path: Path) -> None:
    state = SyncState(tmp_path, SERVER, "demo")
    # Saved X, Y, X while offline: the server holding X as latest can only mean the first.
    state.journal_add([Pending("a", "X", None, None, "a.yaml", source="x"),
                       Pending("a", "Y", None, None, "a.yaml", source="y"),
                       Pending("a", "X", None, None, "a.yaml", source="x")])
    left = state.resolve_journal({"a": (4, "X")})
    assert [p.sha256 for p in left] == ["Y", "X"]
    assert state.get("a") is not None and state.get("a").version == 4  # type: ignore[union-attr]


def test_a_save_that_reached_the_server_before_a_crash_is_not_stored_twice(rig: Rig) -> None:
    rig.save(A, text(1))
    outbox = Outbox(rig.engine)
    from promptsync.sync.scan import load_file

    for n in (2, 3):
        outbox.enqueue([load_file(rig.prompts, rig.write(A, text(n)))])  # type: ignore[list-item]
    # The first queued save reached the server, then the daemon died before recording it.
    rig.other.push(rig.account.project, "a", text(2), parent_version=1)
    report = outbox.flush()
    assert [(s.outcome, s.version) for s in report.results] == [
        (PushOutcome.UNCHANGED, 2), (PushOutcome.CREATED, 3)]
    assert rig.versions("a") == [text(1), text(2), text(3)]
    assert rig.state().journal == []


# -- the daemon -------------------------------------------------------------------------------


def test_start_reconciles_then_each_save_is_one_version(rig: Rig) -> None:
    rig.write(A, text(1))
    rig.write("sub/b.yaml", text(1))
    rig.daemon.step()
    assert rig.lines == ["a: pushed v1", "sub/b: pushed v1"]
    rig.save(A, text(2))
    assert rig.lines[-1] == "a: pushed v2"
    assert rig.versions("a") == [text(1), text(2)]


def test_touch_a_save_without_change_and_duplicate_events_push_nothing(rig: Rig) -> None:
    rig.save(A, text(1))
    posts = sum(r.startswith("POST") for r in rig.switch.requests)
    path = rig.prompts / A
    path.touch()
    rig.daemon.on_change([path])
    rig.save(A, text(1))
    rig.daemon.on_change([path, path])
    rig.daemon.on_rescan()
    rig.daemon.step()
    assert sum(r.startswith("POST") for r in rig.switch.requests) == posts
    assert rig.versions("a") == [text(1)]


def test_an_invalid_save_is_reported_once_with_its_line_and_the_fix_is_one_version(
    rig: Rig,
) -> None:
    rig.save(A, text(1))
    rig.save(A, "template: [unclosed\n")
    rig.daemon.on_change([rig.prompts / A])  # the same bad bytes again: no new line
    rig.daemon.on_rescan()
    invalid = [line for line in rig.lines if line.startswith("prompts/")]
    assert len(invalid) == 1 and invalid[0].startswith("prompts/a.yaml:2:1: invalid YAML")
    rig.save(A, text(2))
    assert rig.versions("a") == [text(1), text(2)]
    assert rig.lines[-2:] == ["prompts/a.yaml: valid again", "a: pushed v2"]
    rig.save("Bad Name.yaml", text(1))
    assert rig.lines[-1].startswith("prompts/Bad Name.yaml: bad file name")


def test_outage_queues_every_save_and_sends_them_in_order_with_capped_backoff(rig: Rig) -> None:
    rig.save(A, text(0))
    rig.switch.down = True
    rig.save(A, text(1))
    assert rig.lines[-1] == "server unreachable, 1 change queued; saves wait in the journal"
    for n in (2, 3):
        rig.save(A, text(n))
    assert rig.lines[-2:] == ["server unreachable, 2 changes queued",
                              "server unreachable, 3 changes queued"]
    waits = []
    for _ in range(6):
        waits.append(rig.daemon.next_wake() - rig.clock.now)
        before = len(rig.switch.requests)
        rig.daemon.step()  # before the retry is due: no request
        assert len(rig.switch.requests) == before
        rig.clock.now = rig.daemon.next_wake()
        rig.daemon.step()
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert rig.lines[-1] == "server unreachable, 3 changes queued"  # retries are silent
    rig.switch.down = False
    rig.clock.now = rig.daemon.next_wake()
    rig.daemon.step()
    assert rig.lines[-4:] == ["a: pushed v2", "a: pushed v3", "a: pushed v4",
                              "server reachable again"]
    assert rig.versions("a") == [text(n) for n in range(4)]
    assert rig.state().journal == []


def test_a_key_revoked_while_polling_stays_an_error_until_it_answers_again(rig: Rig) -> None:
    """A refusal is said once, and each retry asks again: a retry that sends nothing (the poll
    not due yet) must not claim the server is back."""
    rig.daemon.step()
    admin = {"X-API-Key": rig.account.keys["admin"]}
    web = rig.app.test_client()
    keys = web.get(f"/api/v1/projects/{rig.account.project}/keys", headers=admin).get_json()
    editor = next(k["id"] for k in keys["keys"] if k["name"] == "editor")
    assert web.delete(f"/api/v1/projects/{rig.account.project}/keys/{editor}",
                      headers=admin).status_code == 204
    rig.clock.now = rig.daemon.next_wake()
    rig.daemon.step()
    assert len(rig.lines) == 1 and rig.lines[0].startswith("error: ")
    assert "revoked" in rig.lines[0]
    for _ in range(4):
        before = len(rig.switch.requests)
        rig.clock.now = rig.daemon.next_wake()
        rig.daemon.step()
        assert len(rig.switch.requests) > before, "a retry that asked nothing"
    assert len(rig.lines) == 1, rig.lines  # said once; never "server reachable again"


def test_saves_x_y_x_offline_become_three_versions(rig: Rig) -> None:
    rig.save(A, text(0))
    rig.switch.down = True
    for n in (1, 2, 1):
        rig.save(A, text(n))
    rig.switch.down = False
    rig.clock.now += 10
    rig.daemon.step()
    assert rig.versions("a") == [text(0), text(1), text(2), text(1)]


def test_the_idle_poll_is_one_small_request(rig: Rig) -> None:
    rig.save(A, text(1))
    rig.clock.now += 2.0
    rig.daemon.step()
    before = len(rig.switch.requests)
    rig.clock.now += 2.0
    rig.daemon.step()
    assert rig.switch.requests[before:] == [f"GET /api/v1/projects/{rig.account.project}/events"]
    rig.clock.now += 1.0
    rig.daemon.step()  # not due
    assert len(rig.switch.requests) == before + 1


def test_server_changes_reach_unmodified_files_and_are_not_uploaded_back(rig: Rig) -> None:
    rig.save(A, text(1))
    rig.other.push(rig.account.project, "a", text(2), parent_version=1)
    rig.other.push(rig.account.project, "new/one", text(9))
    rig.clock.now += 2.0
    rig.daemon.step()
    assert (rig.prompts / A).read_text() == text(2)
    assert (rig.prompts / "new" / "one.yaml").read_text() == text(9)
    assert "a: pulled v2" in rig.lines and "new/one: pulled v1" in rig.lines
    rig.daemon.on_change([rig.prompts / A, rig.prompts / "new" / "one.yaml"])  # our own writes
    rig.daemon.step()
    assert rig.versions("a") == [text(1), text(2)]
    assert rig.state().journal == []


def test_a_conflict_is_reported_once_and_neither_side_is_touched(rig: Rig) -> None:
    rig.save(A, text(1))
    rig.other.push(rig.account.project, "a", text(2), parent_version=1)
    rig.write(A, text(3))
    rig.clock.now += 2.0
    rig.daemon.step()  # the poll sees both sides changed before the watcher delivers the save
    rig.daemon.on_change([rig.prompts / A])
    rig.daemon.step()
    rig.clock.now += 60.0
    rig.daemon.step()
    conflicts = [line for line in rig.lines if "conflict" in line]
    assert len(conflicts) == 1 and conflicts[0].startswith("a: conflict: changed here and on")
    assert (rig.prompts / A).read_text() == text(3)
    assert rig.versions("a") == [text(1), text(2)]


def test_a_save_based_on_an_old_version_is_refused_with_a_conflict_line(rig: Rig) -> None:
    rig.save(A, text(1))
    rig.other.push(rig.account.project, "a", text(2), parent_version=1)
    rig.save(A, text(3))  # sent before any poll: the server answers 409
    assert rig.lines[-1].startswith("a: conflict: the server is at v2, this save is based on v1")
    assert rig.versions("a") == [text(1), text(2)]
    assert rig.state().journal == []


def test_the_rescan_finds_what_the_watcher_missed_and_rereads_only_changed_files(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.write(A, text(1))
    rig.daemon.step()
    rig.daemon.on_rescan()
    import promptsync.watch.intake as intake_mod

    reads: list[Path] = []
    real = intake_mod.load_file
    def counting(root: Path, path: Path, rel: str) -> object:
        reads.append(path)
        return real(root, path, rel)

    monkeypatch.setattr(intake_mod, "load_file", counting)
    rig.daemon.on_rescan()
    assert reads == []
    rig.write("b.yaml", text(1))
    rig.daemon.on_rescan()
    rig.daemon.step()
    assert reads == [rig.prompts / "b.yaml"]
    assert rig.lines[-1] == "b: pushed v1"


def test_a_refused_key_is_not_called_an_unreachable_server(rig: Rig) -> None:
    # With the key revoked, a save said "server unreachable, 2 changes queued" and the end of
    # it "server reachable again": the server answered all along; it refused the key.
    rig.save(A, text(0))
    revoked = {"error": "unauthorized", "detail": "The API key has been revoked."}
    rig.switch.inner = httpx.MockTransport(lambda request: httpx.Response(401, json=revoked))
    rig.save(A, text(1))
    assert rig.lines[-1].startswith("error: ") and "(1 change queued, retrying)" in rig.lines[-1]
    rig.save(A, text(2))
    assert rig.lines[-1] == "not sent yet (the server refused the last request), 2 changes queued"
    rig.switch.inner = httpx.WSGITransport(app=rig.app)
    rig.clock.now = rig.daemon.next_wake()
    rig.daemon.step()
    assert rig.lines[-1] == "the server accepts requests again"
    assert not any("reachable" in line for line in rig.lines), rig.lines


def test_an_unreachable_server_at_start_is_reconciled_when_it_returns(rig: Rig) -> None:
    rig.write(A, text(1))
    rig.switch.down = True
    rig.daemon.step()
    assert rig.lines == ["server unreachable, nothing queued; saves wait in the journal"]
    rig.daemon.on_rescan()  # the watcher's start-up rescan queues the file offline
    rig.switch.down = False
    rig.clock.now += 1
    rig.daemon.step()
    assert rig.lines[1:] == ["server unreachable, 1 change queued", "a: pushed v1",
                             "server reachable again"]
