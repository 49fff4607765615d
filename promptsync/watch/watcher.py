"""Watch a prompts directory: drop editor noise, debounce per path, hand paths to a callback."""

from __future__ import annotations

import errno
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from watchdog.events import FileSystemEvent
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from promptsync.sync.tree import walk
from promptsync.watch.debounce import DEFAULT_QUIET, Debouncer
from promptsync.watch.events import OVERFLOW_LOGGER, EventFilter, OverflowListener
from promptsync.watch.saves import Signal, holds_prompt

# inotify_add_watch/inotify_init report exhausted limits with these; polling still works.
_LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE, errno.ENFILE})
# Rename-on-save editors remove the file for a moment: how long a vanished path is held.
DEFAULT_GRACE = 1.5
# How long the first due path waits for others (git checkout writes many files in a row): a
# finished save is uploaded this long after its close or rename.
BATCH_WINDOW = 0.01
POLL_INTERVAL = 1.0


def _stderr(message: str) -> None:
    """Write one line to stderr."""
    print(message, file=sys.stderr, flush=True)


def _dispose(observer: BaseObserver) -> None:
    """Stop an observer whose start may have failed, joining whatever threads it did start."""
    # InotifyObserver starts its reader thread in __init__ and joins it in stop(); the observer
    # thread itself exists only if start() got that far.
    observer.stop()
    if observer.is_alive():
        observer.join()


# The contract for consumers (the sync engine behind `promptsync watch`):
# - on_change(paths) and on_rescan() run on one worker thread, never concurrently, never on
#   watchdog's thread. While one runs, new events keep being debounced; a slow callback delays
#   delivery but loses nothing. An exception goes to on_error (or the log) and watching goes on;
#   a failed on_change is followed by a rescan ERROR_RESCAN_DELAY later.
# - paths are absolute, below Path(root).absolute(), sorted, and pass is_ignored(); a batch holds
#   every path whose events stopped `quiet` seconds ago, and, `BATCH_WINDOW` after its event,
#   every path whose save finished (closed after a write, renamed into place: saves.py) and
#   whose bytes `settled(path)` accepts (by default: a valid prompt; an empty or half-written
#   file waits out `quiet` instead). Duplicates, touch and our own pull writes are delivered
#   too: compare hashes.
# - Deletions: a delivered path either exists at delivery time, or has been absent for `grace`
#   seconds (rename-on-save editors remove the file for a moment). So a consumer that finds it
#   missing when it reads may treat it as deleted: should a save race that read, its events
#   deliver the path again within `quiet`.
# - Regular files only: the watcher opens nothing; whether a path is a symlink or a regular file
#   is for the consumer to check when it opens it.
# - on_rescan(): events may have been lost (start-up, every rescan_interval, a directory moved
#   or deleted, inotify queue overflow): compare the whole tree with the sync state.
class PromptWatcher:
    """Watch root recursively; call on_change(paths) / on_rescan() serially on one worker thread."""

    # After on_change raises, rescan this much later: the paths of the failed batch are gone.
    ERROR_RESCAN_DELAY = 5.0

    def __init__(
        self,
        root: Path | str,
        on_change: Callable[[list[Path]], None],
        *,
        quiet: float = DEFAULT_QUIET,
        grace: float = DEFAULT_GRACE,
        rescan_interval: float = 60.0,
        on_rescan: Callable[[], None] | None = None,
        rescan_on_start: bool = True,
        on_error: Callable[[BaseException], None] | None = None,
        settled: Callable[[Path], bool] | None = None,
        force_polling: bool = False,
        log: Callable[[str], None] = _stderr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root).absolute()
        self.observer_kind = ""
        self._on_change = on_change
        self._on_rescan = on_rescan
        self._on_error = on_error
        self._rescan_interval = rescan_interval if rescan_interval > 0 else math.inf
        self._rescan_on_start = rescan_on_start
        self._force_polling = force_polling
        self._log = log
        # Every deadline (debounce, rescans) is read on this clock, so a test can hold it.
        self._clock = clock
        self._cond = threading.Condition()
        self._debouncer = Debouncer(quiet, grace=grace, batch_window=BATCH_WINDOW, clock=clock)
        # Read on the worker thread only, for a path whose save the kernel says is finished.
        self._settled = settled or (lambda path: holds_prompt(self.root, path))
        self._subtrees: list[Path] = []
        self._handler_errors: list[Exception] = []
        self._rescan_at = math.inf
        self._periodic_at = math.inf
        self._stopping = False
        self._observer: BaseObserver | None = None
        self._worker: threading.Thread | None = None
        self._overflow = OverflowListener(self._request_rescan)
        self._handler = _GuardedFilter(self)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the observer (inotify, or polling when limits are hit) and the worker thread."""
        if self._observer is not None:
            raise RuntimeError("PromptWatcher already started")
        self._observer = self._start_observer()
        logging.getLogger(OVERFLOW_LOGGER).addHandler(self._overflow)
        now = self._clock()
        with self._cond:
            self._stopping = False
            if self._on_rescan is not None:
                # Observer first, then the rescan: a save cannot fall into a gap between them.
                self._rescan_at = now if self._rescan_on_start else math.inf
                self._periodic_at = now + self._rescan_interval
        self._worker = threading.Thread(target=self._run, name="promptsync-watcher", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        """Stop watching and join every thread started; waits for a callback in progress."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        logging.getLogger(OVERFLOW_LOGGER).removeHandler(self._overflow)
        observer, self._observer = self._observer, None
        if observer is not None:
            _dispose(observer)
        worker, self._worker = self._worker, None
        if worker is not None and worker is not threading.current_thread():
            worker.join()

    def __enter__(self) -> PromptWatcher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_observer(self) -> BaseObserver:
        """Start the native observer, falling back to polling when the OS refuses more watches."""
        if not self._force_polling:
            observer: BaseObserver | None = None
            try:
                observer = Observer()
                observer.schedule(self._handler, str(self.root), recursive=True)
                observer.start()
            except OSError as exc:
                if observer is not None:
                    _dispose(observer)
                if exc.errno not in _LIMIT_ERRNOS:
                    raise
                self._log(
                    f"watch: {exc.strerror or exc}; falling back to polling {self.root} every "
                    f"{POLL_INTERVAL:g} s (raise fs.inotify.max_user_watches and "
                    "fs.inotify.max_user_instances with sysctl for instant, idle-free watching)"
                )
            else:
                name = type(observer).__name__.removesuffix("Observer").lower()
                self.observer_kind = name or "native"
                return observer
        polling = PollingObserver(timeout=POLL_INTERVAL)
        polling.schedule(self._handler, str(self.root), recursive=True)
        try:
            polling.start()
        except BaseException:
            _dispose(polling)
            raise
        self.observer_kind = "polling"
        return polling

    def recheck(self, paths: Iterable[Path]) -> None:
        """Deliver ``paths`` again as after an event now: a missing one once the grace period
        has passed without it coming back (a consumer's rescan found them missing)."""
        with self._cond:
            for path in paths:
                self._debouncer.touch(path)
            self._cond.notify()

    # -- called from the observer thread -----------------------------------------------------

    def _enqueue(self, path: Path, signal: Signal = Signal.WRITING) -> None:
        with self._cond:
            self._debouncer.touch(path, signal)
            self._cond.notify()

    def _enqueue_subtree(self, directory: Path) -> None:
        with self._cond:
            self._subtrees.append(directory)
            self._cond.notify()

    def _request_rescan(self, delay: float = 0.0) -> None:
        # Debounced like paths, so that `rm -rf` of many folders costs one rescan.
        if self._on_rescan is None:
            return
        with self._cond:
            self._rescan_at = min(self._rescan_at, self._clock() + delay + self._debouncer.quiet)
            self._cond.notify()

    def _handler_failed(self, exc: Exception) -> None:
        with self._cond:
            self._handler_errors.append(exc)
            self._cond.notify()
        self._request_rescan()  # the event it choked on is lost

    # -- the worker thread -------------------------------------------------------------------

    def _next_wake(self) -> float:
        deadline = self._debouncer.next_deadline()
        wake = min(self._rescan_at, deadline if deadline is not None else math.inf)
        if self._on_rescan is not None:
            wake = min(wake, self._periodic_at)
        return wake

    def _run(self) -> None:
        """Wait for the next deadline (no polling), then deliver due paths and rescans."""
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = self._clock()
                    wake = self._next_wake()
                    if self._subtrees or self._handler_errors or wake <= now:
                        break
                    self._cond.wait(None if wake == math.inf else wake - now)
                subtrees, self._subtrees = self._subtrees, []
                errors, self._handler_errors = self._handler_errors, []
            for exc in errors:
                self._report(exc)
            for directory in subtrees:
                # Walked here, not in the handler: the observer thread must never block on disk.
                for path in walk(directory):
                    self._enqueue(path)
            with self._cond:
                # Under the lock, as the existence checks: the observer's thread only queues
                # events, and a finished save's read (one small file) is brief.
                batch = self._debouncer.due(os.path.lexists, self._settled)
                rescan = min(self._rescan_at, self._periodic_at) <= now
                if rescan:
                    self._rescan_at = math.inf
                    self._periodic_at = now + self._rescan_interval
            if rescan and self._on_rescan is not None:
                self._call(self._on_rescan)
            if batch and not self._call(self._on_change, batch):
                self._request_rescan(self.ERROR_RESCAN_DELAY)

    def _call(self, callback: Callable[..., None], *args: object) -> bool:
        """Run a consumer callback; report and swallow its failure so that watching goes on."""
        try:
            callback(*args)
        except Exception as exc:
            # The boundary of the daemon: it must outlive any bug or outage behind a callback.
            self._report(exc)
            return False
        return True

    def _report(self, exc: Exception) -> None:
        if self._on_error is None:
            self._log(f"watch: {type(exc).__name__}: {exc}")
            return
        try:
            self._on_error(exc)
        except Exception as again:  # a broken error handler must not kill the loop
            self._log(f"watch: error handler failed: {type(again).__name__}: {again} (on {exc!r})")


class _GuardedFilter(EventFilter):
    """The EventFilter wired to a PromptWatcher; an exception in it must not kill the observer."""

    def __init__(self, watcher: PromptWatcher) -> None:
        super().__init__(
            watcher.root, watcher._enqueue, watcher._enqueue_subtree, watcher._request_rescan
        )
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Filter the event; on a bug, have the worker report it and rescan."""
        try:
            super().on_any_event(event)
        except Exception as exc:  # watchdog's thread dies on any exception
            self._watcher._handler_failed(exc)
