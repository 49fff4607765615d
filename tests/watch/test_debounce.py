"""Tests for promptsync.watch.debounce: the Debouncer on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsync.watch.debounce import Debouncer
from tests.support.fakes import FakeClock

A, B = Path("/r/a.yaml"), Path("/r/b.yaml")


def test_debouncer_coalesces_a_burst_and_fires_on_the_trailing_edge() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, clock=clock)
    assert d.next_deadline() is None and d.due() == []
    for _ in range(5):
        d.touch(A)
        clock.advance(0.1)
    # last event at 100.4: due at 100.7, not before
    assert d.next_deadline() == pytest.approx(100.7)
    clock.advance(0.19)
    assert d.due() == []
    clock.advance(0.02)
    assert d.due() == [A]
    assert d.due() == [] and d.next_deadline() is None and d.pending() == []


def test_debouncer_keeps_paths_independent_and_sorted() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, clock=clock)
    d.touch(B)
    clock.advance(0.2)
    d.touch(A)
    assert d.pending() == [A, B]
    clock.advance(0.1)
    assert d.due() == [B]  # A's later event does not hold B back
    assert d.next_deadline() == pytest.approx(100.5)
    clock.advance(0.2)
    assert d.due() == [A]
    d.touch(B)
    d.touch(A)
    clock.advance(0.3)
    assert d.due() == [A, B]


def test_debouncer_batch_window_gathers_paths_due_close_together() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, batch_window=0.05, clock=clock)
    d.touch(A)
    clock.advance(0.04)
    d.touch(B)
    assert d.next_deadline() == pytest.approx(100.35)  # A's deadline + the window
    clock.advance(0.31)
    assert d.due() == [A, B]


def test_debouncer_holds_a_vanished_path_for_the_grace_period() -> None:
    clock = FakeClock(100.0)
    present: set[Path] = set()
    d = Debouncer(0.3, grace=1.5, clock=clock)
    d.touch(A)
    clock.advance(0.3)
    assert d.due(present.__contains__) == []  # missing: first seen at 100.3
    assert d.next_deadline() == pytest.approx(100.6)  # looks again after `quiet`
    clock.advance(1.3)
    assert d.due(present.__contains__) == []
    assert d.next_deadline() == pytest.approx(101.8)  # never later than the end of grace
    clock.advance(0.19)
    assert d.due(present.__contains__) == []
    clock.advance(0.01)
    assert d.due(present.__contains__) == [A]  # gone for 1.5 s: the consumer may believe it


def test_debouncer_delivers_a_reappeared_path_after_one_more_quiet_period() -> None:
    clock = FakeClock(100.0)
    present: set[Path] = set()
    d = Debouncer(0.3, grace=1.5, clock=clock)
    d.touch(A)  # vim: moved a.yaml -> a.yaml~ ...
    clock.advance(0.3)
    assert d.due(present.__contains__) == []
    present.add(A)  # ... created a.yaml, maybe not yet written, its events not yet seen
    clock.advance(0.3)
    assert d.due(present.__contains__) == []
    assert d.next_deadline() == pytest.approx(100.9)
    clock.advance(0.3)
    assert d.due(present.__contains__) == [A]
    # the next disappearance gets a full grace period again
    present.clear()
    d.touch(A)
    clock.advance(0.3)
    assert d.due(present.__contains__) == []
    clock.advance(1.49)
    assert d.due(present.__contains__) == []


def test_debouncer_without_grace_or_exists_delivers_missing_paths_at_once() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, clock=clock)
    d.touch(A)
    clock.advance(0.3)
    assert d.due(lambda p: False) == [A]
    d2 = Debouncer(0.3, grace=1.0, clock=clock)
    d2.touch(A)
    clock.advance(0.3)
    assert d2.due() == [A]  # no existence check given: nothing to wait for
