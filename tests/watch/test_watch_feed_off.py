"""A watch whose event stream the server does not have (an older server: its stream route answers
404), over the real app on a loopback port (tests/support/watch_stack.py): one watch line says
live updates are off and that it polls instead, and it does poll."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.support.live import prompt_source
from tests.support.waiting import wait_until
from tests.support.watch_stack import Stack

NOT_FOUND = {"error": "not_found", "detail": "The requested URL was not found on the server."}


def without_streams(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``app`` as a server from before SPEC §12: no /events/stream route."""

    def serve(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"].endswith("/events/stream"):
            body = json.dumps(NOT_FOUND).encode()
            start_response("404 NOT FOUND", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return serve


def test_a_server_without_streams_is_said_once_and_watch_polls(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    stack.wsgi.app = without_streams(stack.wsgi.app)  # type: ignore[assignment]
    daemon = stack.watch(listen=True)
    line = ("live updates off (no event stream on the server, 404: The requested URL was not "
            "found on the server); polling every 0.3 s")
    wait_until(lambda: line in stack.lines, 10, lambda: f"the line: {stack.lines}")
    assert daemon.feed is not None and not daemon.feed.up
    # Polling brings a version pushed elsewhere into the file.
    response = stack.web.post("/a", json={"source": prompt_source("Hi {{ name }}.")})
    assert response.status_code == 201, response.text
    wait_until(lambda: "Hi" in stack.path.read_text(), 10,
               lambda: f"the pushed version in the file: {stack.lines}")
    time.sleep(1.0)  # a negative check: several poll intervals, the line is not said again
    assert [x for x in stack.lines if "live updates off" in x] == [line], stack.lines
    # Said by watch, not also by the stream reader's logging warning.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING
                and "live updates off" in r.getMessage()], caplog.text
