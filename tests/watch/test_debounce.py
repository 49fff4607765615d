"""Tests for promptsync.watch.debounce: the Debouncer on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsync.watch.debounce import Debouncer
from promptsync.watch.saves import Signal
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


# -- a finished save (saves.Signal.FINISHED) is due at once, if its bytes agree ---------------


def test_a_finished_save_is_due_after_the_batch_window_not_the_quiet_period() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, grace=1.5, batch_window=0.01, clock=clock)
    d.touch(A, Signal.WRITING)  # opened with O_TRUNC, written ...
    d.touch(A, Signal.FINISHED)  # ... and closed
    assert d.next_deadline() == pytest.approx(100.01)
    clock.advance(0.01)
    asked: list[Path] = []

    def settled(path: Path) -> bool:
        asked.append(path)
        return True

    assert d.due(lambda p: True, settled) == [A]
    assert asked == [A] and d.pending() == [] and d.next_deadline() is None


def test_bytes_that_are_no_finished_save_wait_for_the_quiet_period_and_are_asked_once() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, batch_window=0.01, clock=clock)
    asked: list[Path] = []

    def refuse(path: Path) -> bool:  # e.g. a file truncated and closed before it is written
        asked.append(path)
        return False

    d.touch(A, Signal.FINISHED)
    clock.advance(0.01)
    assert d.due(lambda p: True, refuse) == [] and asked == [A]
    assert d.next_deadline() == pytest.approx(100.31)  # its quiet deadline + the window
    clock.advance(0.28)
    assert d.due(lambda p: True, refuse) == [] and asked == [A]
    clock.advance(0.01)
    assert d.due(lambda p: True, refuse) == [A]  # delivered as any quiet path: reported then
    assert asked == [A]


def test_the_rest_of_the_write_after_a_refused_close_is_due_at_once() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, batch_window=0.01, clock=clock)
    content = {A: b""}

    def settled(path: Path) -> bool:
        return bool(content[path])

    d.touch(A, Signal.FINISHED)  # truncated, closed
    clock.advance(0.01)
    assert d.due(lambda p: True, settled) == []
    d.touch(A, Signal.WRITING)  # reopened, written ...
    content[A] = b"template: x\n"
    d.touch(A, Signal.FINISHED)  # ... closed
    clock.advance(0.01)
    assert d.due(lambda p: True, settled) == [A]


def test_a_write_after_the_close_takes_the_finish_back_and_an_attrib_does_not() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, batch_window=0.01, clock=clock)
    d.touch(A, Signal.FINISHED)
    d.touch(A, Signal.WRITING)  # written again: wait for its quiet period
    d.touch(B, Signal.FINISHED)
    d.touch(B, Signal.TOUCHED)  # vim's and emacs' chmod after the close
    clock.advance(0.01)
    assert d.due(lambda p: True, lambda p: True) == [B]
    d.touch(A, Signal.TOUCHED)  # an attrib alone is a change like any other
    clock.advance(0.29)
    assert d.due(lambda p: True, lambda p: True) == []
    clock.advance(0.01)
    assert d.due(lambda p: True, lambda p: True) == [A]


def test_a_finished_save_gone_again_is_held_by_grace() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, grace=1.5, batch_window=0.01, clock=clock)
    d.touch(A, Signal.FINISHED)
    clock.advance(0.01)
    assert d.due(lambda p: False, lambda p: True) == []  # its deletion's event is on its way
    clock.advance(0.3)
    assert d.due(lambda p: False, lambda p: True) == []  # missing: grace, as before
    assert d.pending() == [A]


def test_saves_finished_together_share_one_batch() -> None:
    clock = FakeClock(100.0)
    d = Debouncer(0.3, batch_window=0.01, clock=clock)
    d.touch(A, Signal.FINISHED)
    clock.advance(0.004)
    d.touch(B, Signal.FINISHED)  # git checkout: the next file a few ms later
    assert d.next_deadline() == pytest.approx(100.01)
    clock.advance(0.006)
    assert d.due(lambda p: True, lambda p: True) == [A, B]
