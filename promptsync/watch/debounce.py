"""Trailing-edge debounce per path on an injectable clock: when a saved file is ready to read."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from promptsync.watch.saves import Signal

# The wait after a path's last event when nothing says its save is over (a write still open, a
# file created and not yet closed, an attrib alone). A finished save (saves.py) does not wait
# for it; one save's events arrive within milliseconds.
DEFAULT_QUIET = 0.15


class Debouncer:
    """Trailing-edge debounce per path, with a grace period for vanished paths, and at once for
    a path whose last event finished a save (its bytes permitting); pure."""

    def __init__(
        self,
        quiet: float = DEFAULT_QUIET,
        *,
        grace: float = 0.0,
        batch_window: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet = quiet
        self.grace = grace
        self.batch_window = batch_window
        self._clock = clock
        self._deadline: dict[Path, float] = {}
        self._missing_since: dict[Path, float] = {}
        self._finished: dict[Path, float] = {}  # path -> when its save finished (saves.after)

    def touch(self, path: Path, signal: Signal = Signal.WRITING) -> None:
        """Record an event for path now, pushing its deadline to now + quiet; a FINISHED one
        makes it due at once, a WRITING one takes that back, a TOUCHED one leaves it."""
        now = self._clock()
        self._deadline[path] = now + self.quiet
        if signal is Signal.FINISHED:
            self._finished.setdefault(path, now)
        elif signal is Signal.WRITING:
            self._finished.pop(path, None)

    def due(
        self,
        exists: Callable[[Path], bool] | None = None,
        settled: Callable[[Path], bool] | None = None,
    ) -> list[Path]:
        """Pop the paths quiet for `quiet` s (and present, or gone for `grace` s), and those whose
        save finished and whose bytes ``settled`` accepts; sorted."""
        now = self._clock()
        ready = []
        for path, deadline in list(self._deadline.items()):
            if deadline > now:
                if self._finished_now(path, now, exists, settled):
                    del self._deadline[path]
                    self._missing_since.pop(path, None)
                    ready.append(path)
                continue
            self._finished.pop(path, None)
            if self.grace > 0 and exists is not None:
                if not exists(path):
                    since = self._missing_since.setdefault(path, now)
                    if now - since < self.grace:
                        # Look again soon: a rename-on-save puts the file back within milliseconds.
                        self._deadline[path] = min(now + self.quiet, since + self.grace)
                        continue
                elif self._missing_since.pop(path, None) is not None:
                    # It came back since the last look, maybe this very instant, before its own
                    # events arrive: give the writer a quiet period, as after any event.
                    self._deadline[path] = now + self.quiet
                    continue
            del self._deadline[path]
            self._missing_since.pop(path, None)
            ready.append(path)
        return sorted(ready)

    def _finished_now(
        self,
        path: Path,
        now: float,
        exists: Callable[[Path], bool] | None,
        settled: Callable[[Path], bool] | None,
    ) -> bool:
        """Whether path's save is over: the kernel said so, and its bytes agree (asked once per
        mark; a refusal, e.g. a file truncated and closed before it is written, waits out the
        quiet period after its last event, as any unfinished write)."""
        finished_at = self._finished.get(path)
        if finished_at is None or finished_at > now:
            return False
        del self._finished[path]
        if exists is not None and not exists(path):
            return False  # gone again: its deletion event follows; grace decides
        return settled is None or settled(path)

    def next_deadline(self) -> float | None:
        """Return the clock time at which to call due() next, or None when nothing is pending."""
        # Waiting batch_window past the first deadline lets files saved together (git checkout,
        # a refactoring) share one batch, at the cost of that much latency.
        first = min([*self._deadline.values(), *self._finished.values()], default=None)
        return None if first is None else first + self.batch_window

    def pending(self) -> list[Path]:
        """Return the paths waiting to become due, sorted."""
        return sorted(self._deadline)
