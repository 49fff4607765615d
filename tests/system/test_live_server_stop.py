"""The live-server helper itself (tests/support/live.py): stop() leaves no process of the
server's group behind, with event streams open (the gthread worker outlives the master's
SIGTERM) and when the master is already gone (its orphaned worker still serving)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import create_account, create_key, group_alive
from tests.support.logged_gunicorn import STREAM_ENV, LoggedGunicorn
from tests.support.sse import StreamReader
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery"


class QuickGrace(LoggedGunicorn):
    """A graceful timeout of 1 s, not 2: the master SIGKILLs a worker its streams hold a second
    sooner (the worker still outlives the master's SIGTERM). Without the project's config,
    whose hooks end streams at once: a worker its streams hold is what stop() must outlast."""

    project_config = False

    def command(self) -> list[str]:
        argv = super().command()
        argv[argv.index("--graceful-timeout") + 1] = "1"
        return argv


@pytest.fixture
def streaming(tmp_path: Path) -> Iterator[tuple[LoggedGunicorn, list[StreamReader]]]:
    """A one-worker gthread server with two event streams open on it."""
    server = QuickGrace(tmp_path / "server", workers=1, env=STREAM_ENV).start()
    readers: list[StreamReader] = []
    try:
        create_account(server.url, "ann@example.com", PASSWORD, "demo")
        key = create_key(server.url, "ann@example.com", PASSWORD, "demo", role="viewer")
        readers = [StreamReader(server.url + "/api/v1/events/stream", {"X-API-Key": key})
                   for _ in range(2)]
        wait_until(lambda: all(r.received.comments for r in readers), 10, "both streams open")
        yield server, readers
    finally:
        server.stop()
        for reader in readers:
            reader.close()


def test_stop_ends_the_whole_group_while_streams_are_open(
        streaming: tuple[LoggedGunicorn, list[StreamReader]]) -> None:
    server, _readers = streaming
    assert server.process is not None and server.worker_pids()
    group = server.process.pid
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)


def test_stop_ends_the_workers_of_a_master_already_gone(
        streaming: tuple[LoggedGunicorn, list[StreamReader]]) -> None:
    server, _readers = streaming
    assert server.process is not None
    group, workers = server.process.pid, server.worker_pids()
    os.kill(group, signal.SIGKILL)  # the master alone: its worker keeps serving the streams
    server.process.wait(timeout=5)
    assert workers and group_alive(group)
    # SIGTERM cannot end this worker: its open streams' threads hold it after 'Worker exiting'
    # until SIGKILL, which stop() must send. No use waiting 5 s for the SIGTERM first.
    server.term_deadline = 0.5
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
