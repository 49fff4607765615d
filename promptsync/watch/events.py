"""What a watchdog event means for the prompt tree: a prompt path, a new subtree, lost events."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from promptsync.sync.tree import is_ignored, is_ignored_dir
from promptsync.watch.saves import Signal, signals

# watchdog reports an inotify queue overflow only through this logger.
OVERFLOW_LOGGER = "watchdog.observers.inotify_c"


class EventFilter(FileSystemEventHandler):
    """Route watchdog events to callbacks: prompt files, new subtrees, lost ones; does no I/O."""

    def __init__(
        self,
        root: Path,
        on_path: Callable[[Path, Signal], None],
        on_subtree: Callable[[Path], None],
        on_rescan: Callable[[], None],
    ) -> None:
        self.root = root
        self._on_path = on_path
        self._on_subtree = on_subtree
        self._on_rescan = on_rescan

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Enqueue each path of a file event with what it says (saves.signals), or flag a
        directory that appeared or vanished."""
        src = Path(os.fsdecode(event.src_path)) if event.src_path else None
        dest = Path(os.fsdecode(event.dest_path)) if event.dest_path else None
        if event.is_directory:
            # Directory modified/attrib events come with every file change: nothing to learn.
            if isinstance(event, DirCreatedEvent) and src and not is_ignored_dir(src, self.root):
                self._on_subtree(src)
            elif isinstance(event, DirMovedEvent):
                if src and not is_ignored_dir(src, self.root):
                    self._on_rescan()  # the files that were below src are gone
                if dest and not is_ignored_dir(dest, self.root):
                    self._on_subtree(dest)
            elif isinstance(event, DirDeletedEvent) and src and not is_ignored_dir(src, self.root):
                self._on_rescan()  # the files below it are gone, and may not each have an event
            return
        for path, signal in signals(event):
            if not is_ignored(path, self.root):
                self._on_path(path, signal)


class OverflowListener(logging.Handler):
    """Turn watchdog's 'inotify queue overflowed' log record into a rescan request."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        """Request a rescan when the record reports lost events."""
        if "overflow" in str(record.msg).lower():
            self._on_overflow()
