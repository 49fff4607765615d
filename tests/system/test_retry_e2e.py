"""End to end: `promptsync` against a real server behind a front that refuses connections and
answers 503/502, as a restarting server or a proxy does. The CLI runs in-process with its waits
recorded (Obj.sleep, the one fake: the sleeper also opens the front when "time passes"), and
once as the installed command, sleeping for real."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from promptsync.cli import cli
from promptsync.cli.context import Obj
from promptsync.client.login import login_key_name
from tests.support.command import run_command
from tests.support.environment import command_env
from tests.support.flaky import FlakyFront, flaky_front
from tests.support.live import (
    LiveServer,
    create_account,
    create_key,
    make_prompt_repo,
    prompt_source,
)

PASSWORD = "correct horse battery"
BATCH = "POST /api/v1/projects/demo/prompts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server (SQLite) for the module, with ann's project demo."""
    with LiveServer(tmp_path_factory.mktemp("retry") / "server") as live:
        create_account(live.url, "ann@example.com", PASSWORD, "demo")
        yield live


@pytest.fixture
def key(server: LiveServer) -> str:
    return create_key(server.url, "ann@example.com", PASSWORD, "demo")


def _repo(root: Path, front: FlakyFront, slug: str) -> Path:
    source = prompt_source(f"Hi {{{{ name }}}}, from {slug}.")
    make_prompt_repo(root, front.url, "demo", {f"{slug}.yaml": source})
    return root


def _push(key: str, sleep: Callable[[float], None]) -> Result:
    return CliRunner().invoke(cli, ["--api-key", key, "push"], obj=Obj(sleep=sleep))


def _versions(server: LiveServer, key: str, slug: str) -> list[int]:
    answer = httpx.get(f"{server.url}/api/v1/projects/demo/prompts/{slug}/-/versions",
                       headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    return [v["version"] for v in answer.json()["versions"]]


def _warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]


def test_push_rides_out_refused_connections_and_503s(
    server: LiveServer, key: str, tmp_path: Path, isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    with flaky_front(server.url, opened=False) as front:  # the server is "restarting"
        monkeypatch.chdir(_repo(tmp_path / "repo", front, "retry/refused"))
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 2:  # back, but answering its first two pushes 503
                front.fail_next(2, method="POST", retry_after="1")
                front.open()

        result = _push(key, sleep)
        assert result.exit_code == 0, result.output
        assert "retry/refused: pushed v1" in result.stderr
        assert sleeps == [0.25, 0.5, 1, 1]  # the 503s asked for 1 s: more than 0.25 and 0.5
        warnings = _warnings(result)
        assert len(warnings) == 4, result.stderr
        assert "connection refused; retrying in 0.25 s (attempt 2 of 4)" in warnings[0]
        assert "connection refused; retrying in 0.5 s (attempt 3 of 4)" in warnings[1]
        assert warnings[2].endswith("503 unavailable; retrying in 1 s (attempt 2 of 4)")
        assert warnings[3].endswith("503 unavailable; retrying in 1 s (attempt 3 of 4)")
        assert [line for line in front.seen if line.startswith(BATCH)] == [
            f"{BATCH} 503", f"{BATCH} 503", f"{BATCH} 200"]
    assert _versions(server, key, "retry/refused") == [1]


def test_a_push_whose_answer_was_lost_is_stored_once(
    server: LiveServer, key: str, tmp_path: Path, isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server stores the push, the proxy in front answers 502 (it gave up waiting): the
    # push sent again is recognised by its hash (200, the same version), not stored twice.
    with flaky_front(server.url) as front:
        monkeypatch.chdir(_repo(tmp_path / "repo", front, "retry/lost"))
        front.fail_next(1, method="POST", status=502, forward=True)
        sleeps: list[float] = []
        result = _push(key, sleeps.append)
        assert result.exit_code == 0, result.output
        assert [line for line in front.seen if line.startswith(BATCH)] == [
            f"{BATCH} 502", f"{BATCH} 200"]
        assert sleeps == [0.25]
    assert _versions(server, key, "retry/lost") == [1]


@pytest.mark.parametrize("outage", ["refused", "503"])
def test_push_reports_the_failure_once_the_attempts_run_out(
    server: LiveServer, key: str, tmp_path: Path, isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch, outage: str
) -> None:
    with flaky_front(server.url, opened=outage != "refused") as front:
        monkeypatch.chdir(_repo(tmp_path / "repo", front, f"retry/{outage}-out"))
        front.fail_next(99)
        sleeps: list[float] = []
        result = _push(key, sleeps.append)
        assert result.exit_code == 1, result.output
        assert sleeps == [0.25, 0.5, 1.0] and len(_warnings(result)) == 3
        error = result.stderr.splitlines()[-1]
        if outage == "refused":
            assert error == (f"error: cannot reach {front.url} (connection refused after 4 "
                             "attempts): is the server running?")
        else:
            assert error.startswith("error: the server failed (503 unavailable) 4 times: ")
            assert len(front.seen) == 4
    assert "retry/" + outage + "-out" not in httpx.get(
        f"{server.url}/api/v1/projects/demo/prompts", headers={"X-API-Key": key}).text


def test_a_write_that_may_have_landed_is_not_sent_again(
    server: LiveServer, key: str, tmp_path: Path, isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # `login` creates a key: a 502 after the server made it is reported, not repeated, so no
    # second key is made behind the user's back.
    keys = "/api/v1/projects/demo/keys"
    with flaky_front(server.url) as front:
        monkeypatch.chdir(_repo(tmp_path / "repo", front, "retry/login"))
        front.fail_next(1, method="POST", path=keys, status=502, forward=True)
        sleeps: list[float] = []
        result = CliRunner().invoke(cli, ["login", "--email", "ann@example.com",
                                          "--password-stdin"], input=PASSWORD + "\n",
                                    obj=Obj(sleep=sleeps.append))
        assert result.exit_code == 1, result.output
        assert "error: the server failed (502 unavailable): " in result.stderr
        assert sleeps == [] and _warnings(result) == []
        assert [line for line in front.seen if keys in line] == [f"POST {keys} 502"]
    listed = httpx.get(server.url + keys, headers={"X-API-Key": create_key(
        server.url, "ann@example.com", PASSWORD, "demo", "admin")}).json()["keys"]
    assert [k["name"] for k in listed].count(login_key_name(socket.gethostname())) == 1


def test_the_installed_command_retries_with_real_waits(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    with flaky_front(server.url) as front:
        root = _repo(tmp_path / "repo", front, "retry/installed")
        front.fail_next(2, method="POST")  # no Retry-After: 0.25 s, then 0.5 s
        done = run_command(root, command_env(tmp_path / "xdg", PROMPTSYNC_API_KEY=key), "push")
        assert done.returncode == 0, done.stderr
        warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
        assert [w.rsplit(": ", 1)[1] for w in warnings] == [
            "503 unavailable; retrying in 0.25 s (attempt 2 of 4)",
            "503 unavailable; retrying in 0.5 s (attempt 3 of 4)"]
        assert "retry/installed: pushed v1" in done.stderr
    assert _versions(server, key, "retry/installed") == [1]
