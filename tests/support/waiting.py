"""Shared test helpers: waiting on a condition with a deadline, and a thread-leak guard."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 5.0,
    message: str | Callable[[], str] = "condition",
    interval: float = 0.01,
) -> None:
    """Poll predicate every `interval` s until it is truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            pytest.fail(f"timed out after {timeout:g} s waiting for: {text}")
        time.sleep(interval)


def _alive_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}


@contextmanager
def no_thread_leaks(grace: float = 0.0) -> Iterator[None]:
    """Fail if threads started inside the block are still alive `grace` s after it ends."""
    before = _alive_threads()
    yield
    deadline = time.monotonic() + grace
    while True:
        leaked = _alive_threads() - before
        if not leaked:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(sorted(t.name for t in leaked))
            pytest.fail(f"threads still alive after the test: {names}")
        time.sleep(0.01)
