"""When is a save finished? What each file event says about the file, folded per path; pure.

The kernel marks the end of every save NOTES.md lists (tests/data/editor_saves.json has them as
a real observer reported them): the writer closes the file it wrote (inotify IN_CLOSE_WRITE,
watchdog's FileClosedEvent), or renames a finished temp file over it (a move whose destination is
the file). A file whose last event is such a mark can be read at once instead of after a quiet
period. Not every close ends a save, though: a writer may truncate and close before it writes,
so the bytes still decide (``holds_prompt``); a file they refuse waits out the quiet period.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from enum import Enum
from pathlib import Path

from watchdog.events import (
    FileAttribEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
)

from promptsync.sync.plan import check_file
from promptsync.sync.scan import LocalFile, load_file


class Signal(Enum):
    """What one event says about one file path."""

    WRITING = "writing"  # its bytes changed or it vanished: the save may not be over
    FINISHED = "finished"  # closed after a write, or renamed into place: the save is over
    TOUCHED = "touched"  # metadata only (attrib): says nothing about the bytes


def signals(event: FileSystemEvent) -> list[tuple[Path, Signal]]:
    """Each file path of the event with what it says; none for directories and for reads."""
    if event.is_directory or isinstance(event, FileOpenedEvent | FileClosedNoWriteEvent):
        return []  # reads (ours included) must not count as changes
    src = Path(os.fsdecode(event.src_path)) if event.src_path else None
    if isinstance(event, FileMovedEvent):
        dest = Path(os.fsdecode(event.dest_path)) if event.dest_path else None
        # The source is gone (maybe the first half of a rename-on-save); the destination holds
        # bytes written and closed under another name: a finished save.
        pairs = [(src, Signal.WRITING), (dest, Signal.FINISHED)]
        return [(path, signal) for path, signal in pairs if path is not None]
    if src is None:
        return []
    if isinstance(event, FileClosedEvent):
        return [(src, Signal.FINISHED)]
    if isinstance(event, FileAttribEvent):
        return [(src, Signal.TOUCHED)]
    return [(src, Signal.WRITING)]  # created, modified, deleted


def after(state: Signal | None, signal: Signal) -> Signal:
    """A path's state after one more signal: the latest write or finish counts."""
    if signal is Signal.TOUCHED:
        # vim and emacs set the mode after their close: the save stays finished. An attrib
        # alone (chmod) waits out the quiet period like any change, as before.
        return Signal.WRITING if state is None else state
    return signal


def states(events: Iterable[FileSystemEvent]) -> dict[Path, Signal]:
    """Fold a sequence of events into each path's state (WRITING or FINISHED)."""
    folded: dict[Path, Signal] = {}
    for event in events:
        for path, signal in signals(event):
            folded[path] = after(folded.get(path), signal)
    return folded


def holds_prompt(root: Path, path: Path) -> bool:
    """Whether the file under ``root`` now holds a valid prompt (an empty, half-written or
    broken file is no finished save: it waits for the quiet period, then is reported)."""
    try:
        relpath = path.relative_to(root).as_posix()
    except ValueError:
        return False
    item = load_file(root, path, relpath)
    return isinstance(item, LocalFile) and not check_file(item)
