"""Tests for promptsync.watch.saves: when a save is finished, decided from the events a real
observer reported for each writer on this machine (tests/data/editor_saves.json, recorded by
tests/support/record_saves.py) and replayed through the EventFilter and the Debouncer."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
)

from promptsync.format.prompt import parse_prompt
from promptsync.watch.debounce import DEFAULT_QUIET, Debouncer
from promptsync.watch.events import EventFilter
from promptsync.watch.saves import Signal, after, holds_prompt, signals, states
from promptsync.watch.watcher import BATCH_WINDOW
from tests.support.fakes import FakeClock

CORPUS = json.loads((Path(__file__).resolve().parents[1] / "data" / "editor_saves.json")
                    .read_text())
R = Path("/r/prompts")
A = R / "a.yaml"
KINDS: dict[str, Any] = {
    "created": FileCreatedEvent, "deleted": FileDeletedEvent, "modified": FileModifiedEvent,
    "moved": FileMovedEvent, "closed": FileClosedEvent, "closed_no_write": FileClosedNoWriteEvent,
    "opened": FileOpenedEvent, "attrib": FileAttribEvent, "dir_created": DirCreatedEvent,
    "dir_deleted": DirDeletedEvent, "dir_modified": DirModifiedEvent, "dir_moved": DirMovedEvent,
}
# What the watcher knows at each pause of each writer: FINISHED (read it now), WRITING (wait
# for the quiet period), None (nothing to read).
AT_EACH_STEP: dict[str, list[Signal | None]] = {
    "truncate_close_then_write": [Signal.FINISHED, Signal.FINISHED],  # the bytes decide step 1
    "partial_write": [Signal.WRITING, Signal.FINISHED],
    "cat (a reader)": [None],
    "chmod": [Signal.WRITING],
}


def event(row: list[str]) -> FileSystemEvent:
    """A recorded [type, src, dest?] row as the watchdog event, under R."""
    kind, *paths = row
    return KINDS[kind](*(str(R / p) if p else "" for p in paths))


def runs() -> list[tuple[str, list[dict[str, Any]]]]:
    return [(name, run) for name, recorded in CORPUS["writers"].items() for run in recorded]


def filtered_states(events: list[FileSystemEvent]) -> dict[Path, Signal]:
    """The states the watcher keeps: the fold of saves.after behind the EventFilter."""
    folded: dict[Path, Signal] = {}

    def on_path(path: Path, signal: Signal) -> None:
        folded[path] = after(folded.get(path), signal)

    handler = EventFilter(R, on_path, lambda _: None, lambda: None)
    for e in events:
        handler.dispatch(e)
    return folded


def present(text: str | None, path: Path) -> bool:
    return text is not None


def readable(text: str | None, path: Path) -> bool:
    return valid(text)


def valid(text: str | None) -> bool:
    if not text:
        return False
    try:
        parse_prompt(text.encode(), "a.yaml")
    except Exception:
        return False
    return True


def test_the_corpus_holds_every_writer_of_the_notes() -> None:
    writers = set(CORPUS["writers"])
    assert {"in_place", "truncate_then_write", "truncate_close_then_write", "partial_write",
            "os_replace", "sed -i", "jetbrains", "gedit", "vim_rename (python)"} <= writers
    # Real editors when they were installed where it was recorded (they are here).
    assert {"vim backupcopy=no", "vim defaults", "emacs"} <= writers


@pytest.mark.parametrize(("writer", "run"), runs(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_pause_of_each_writer_is_judged_from_its_recorded_events(
    writer: str, run: list[dict[str, Any]]
) -> None:
    seen: list[FileSystemEvent] = []
    expected = AT_EACH_STEP.get(writer, [Signal.FINISHED])
    assert len(expected) == len(run)
    for step, want in zip(run, expected, strict=True):
        seen += [event(row) for row in step["events"]]
        got = filtered_states(seen)
        # Never a temp file, a backup, a swap or a lock: only the prompt file has a state.
        assert set(got) <= {A}
        assert got.get(A) is want


@pytest.mark.parametrize(("writer", "run"), runs(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_writer_is_one_delivery_of_its_final_bytes_without_the_quiet_period(
    writer: str, run: list[dict[str, Any]]
) -> None:
    """Each step's events reach the Debouncer at once; at each pause the batch window passes
    and the file holds the text recorded then. A finished save is delivered at that pause; an
    empty, half-written or still open file is not."""
    clock = FakeClock()
    debouncer = Debouncer(DEFAULT_QUIET, grace=1.5, batch_window=BATCH_WINDOW, clock=clock)
    handler = EventFilter(R, debouncer.touch, lambda _: None, lambda: None)
    delivered: list[str | None] = []
    for step in run:
        for row in step["events"]:
            handler.dispatch(event(row))
        clock.advance(BATCH_WINDOW)
        text: str | None = step["text"]
        if debouncer.due(partial(present, text), partial(readable, text)):
            delivered.append(text)
    final = run[-1]["text"]
    if writer == "cat (a reader)":
        assert delivered == [] and debouncer.pending() == []
    elif writer == "chmod":
        assert delivered == []  # an attrib alone waits out the quiet period, as before
        clock.advance(DEFAULT_QUIET)
        assert debouncer.due(lambda _: True, lambda _: True) == [A]
    else:
        assert delivered == [final] and valid(final)
        assert debouncer.pending() == []  # nothing left to deliver again after `quiet`


def test_signals_of_single_events() -> None:
    assert signals(FileClosedEvent(str(A))) == [(A, Signal.FINISHED)]
    assert signals(FileMovedEvent(str(R / "x.tmp"), str(A))) == [
        (R / "x.tmp", Signal.WRITING), (A, Signal.FINISHED)]
    assert signals(FileMovedEvent(str(A), str(R / "a.yaml~"))) == [
        (A, Signal.WRITING), (R / "a.yaml~", Signal.FINISHED)]
    assert signals(FileAttribEvent(str(A))) == [(A, Signal.TOUCHED)]
    for writing in (FileCreatedEvent, FileModifiedEvent, FileDeletedEvent):
        assert signals(writing(str(A))) == [(A, Signal.WRITING)]
    assert signals(FileOpenedEvent(str(A))) == signals(FileClosedNoWriteEvent(str(A))) == []
    assert signals(DirModifiedEvent(str(R))) == []
    assert signals(FileClosedEvent(os.fsencode(A))) == [(A, Signal.FINISHED)]


def test_the_latest_write_or_finish_counts_and_an_attrib_keeps_it() -> None:
    a = str(A)
    assert states([FileClosedEvent(a), FileModifiedEvent(a)]) == {A: Signal.WRITING}
    assert states([FileModifiedEvent(a), FileClosedEvent(a)]) == {A: Signal.FINISHED}
    assert states([FileClosedEvent(a), FileAttribEvent(a)]) == {A: Signal.FINISHED}
    assert states([FileAttribEvent(a)]) == {A: Signal.WRITING}
    assert states([FileClosedEvent(a), FileDeletedEvent(a)]) == {A: Signal.WRITING}


def test_holds_prompt_accepts_only_a_valid_prompt_file(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    for text, want in [("", False), ("template: |\n", False), ("template: [\n", False),
                       ("variables:\n ", False), ("template: x\n", True)]:
        path.write_text(text)
        assert holds_prompt(tmp_path, path) is want, text
    assert not holds_prompt(tmp_path, tmp_path / "missing.yaml")
    (tmp_path / "link.yaml").symlink_to(path)
    assert not holds_prompt(tmp_path, tmp_path / "link.yaml")
    assert not holds_prompt(tmp_path / "sub", path)  # not under the root
