"""Debounce time that passes only when a test says so, for tests of real watchers on real
directories.

A real PromptWatcher delivers a path once its events stop for `quiet` seconds. On a loaded
machine a writer can be descheduled between two steps of one save (truncate ... write) for longer
than that, and the watcher then rightly delivers the half-written file: a test that expects one
batch with the final bytes fails by timing alone. A watcher given ``clock=held.clock`` sees no
time pass until the save is over, so the test checks what the watcher does with the save's
events, on any machine. Real time still paces the worker's waits; only the debounce arithmetic
is held.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from promptsync.watch import watcher as watcher_mod
from promptsync.watch.debounce import Debouncer
from promptsync.watch.saves import Signal
from tests.support.waiting import wait_until

MARKER = "zz-held-clock-"  # a prompt file name no test uses
MARKER_SOURCE = b"template: held clock marker\n"
PAST_EVERYTHING = 60.0  # seconds: past any quiet period, batch window and grace a test uses
DEADLINE = 10.0  # seconds a tick waits for the watcher to take or deliver its marker


def is_marker(path: Path) -> bool:
    """True for the marker files ``tick`` writes."""
    return path.name.startswith(MARKER)


class HeldClock:
    """A clock that stands still until ``advance`` or ``tick`` moves it: pass ``clock=held.clock``
    to the PromptWatcher. ``tick`` also watches which events each watcher started while it is
    installed has taken and left waiting (through its Debouncer)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self._lock = threading.Lock()
        self._taken: set[Path] = set()
        self._delivered: set[Path] = set()
        self._left: list[Path] = []
        self._names = itertools.count()
        held = self

        class ObservedDebouncer(Debouncer):
            def touch(self, path: Path, signal: Signal = Signal.WRITING) -> None:
                super().touch(path, signal)
                if is_marker(path):
                    with held._lock:
                        held._taken.add(path)

            def due(self, exists: Callable[[Path], bool] | None = None,
                    settled: Callable[[Path], bool] | None = None) -> list[Path]:
                ready = super().due(exists, settled)
                with held._lock:  # what this delivery leaves waiting (the watcher's lock is held)
                    held._left = [p for p in self.pending() if not is_marker(p)]
                return ready

        # What a watcher's debouncer was given and still holds is seen nowhere else: observe it.
        monkeypatch.setattr(watcher_mod, "Debouncer", ObservedDebouncer)

    def clock(self) -> float:
        """The held time, in seconds."""
        return self.now

    def advance(self, seconds: float = PAST_EVERYTHING) -> None:
        """Let ``seconds`` pass for the watchers (they notice within one quiet period)."""
        self.now += seconds

    def wrap(self, on_change: Callable[[list[Path]], None]) -> Callable[[list[Path]], None]:
        """A watcher callback that hands ``on_change`` everything but the markers, then notes
        the markers as delivered (so a tick returns only after on_change has run)."""

        def deliver(paths: list[Path]) -> None:
            rest = [p for p in paths if not is_marker(p)]
            try:
                if rest:
                    on_change(rest)
            finally:
                with self._lock:
                    self._delivered.update(p for p in paths if is_marker(p))

        return deliver

    def tick(self, directory: Path, seconds: float = PAST_EVERYTHING) -> list[Path]:
        """Let every event so far reach the watcher, move the clock ``seconds``, and wait until
        what became due has been delivered; returns the paths still waiting.

        A marker file renamed into ``directory`` (one event) is the proof: inotify reports a
        watched tree's events in order, so once the watcher has taken the marker's event it has
        taken every earlier one; and one due() call delivers every due path in one batch, so once
        the marker is delivered (through ``wrap``), so is everything due with it.
        """
        marker = directory / f"{MARKER}{next(self._names)}.yaml"
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")  # ignored name
        # A valid prompt renamed into place: a finished save, due after the batch window, so
        # that a tick shorter than the quiet period can show what is delivered at once.
        os.write(fd, MARKER_SOURCE)
        os.close(fd)
        os.rename(temp, marker)
        wait_until(lambda: self._has(self._taken, marker), DEADLINE,
                   f"the watcher to take the event of {marker.name}")
        self.advance(seconds)
        wait_until(lambda: self._has(self._delivered, marker), DEADLINE,
                   f"{marker.name} to be delivered")
        with self._lock:
            return list(self._left)

    def settle(self, directory: Path, rounds: int = 5) -> None:
        """Tick until nothing waits (a path that came back waits one more quiet period)."""
        for _ in range(rounds):
            left = self.tick(directory)
            if not left:
                return
        pytest.fail(f"still waiting after {rounds} ticks: {left}")

    def _has(self, paths: set[Path], path: Path) -> bool:
        with self._lock:
            return path in paths

