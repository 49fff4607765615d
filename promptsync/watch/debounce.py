"""Trailing-edge debounce per path on an injectable clock: when a saved file is ready to read."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

# One save's events arrive within milliseconds, and a save should be a version within 300 ms at the
# median (the save-visible bar of docs/BENCHMARKS.md): a 300 ms quiet period would spend all of it
# waiting, so the default is half of that.
DEFAULT_QUIET = 0.15


class Debouncer:
    """Trailing-edge debounce per path, with a grace period for vanished paths; pure."""

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

    def touch(self, path: Path) -> None:
        """Record an event for path now, pushing its deadline to now + quiet."""
        self._deadline[path] = self._clock() + self.quiet

    def due(self, exists: Callable[[Path], bool] | None = None) -> list[Path]:
        """Pop the paths quiet for `quiet` s (and present, or gone for `grace` s); sorted."""
        now = self._clock()
        ready = []
        for path, deadline in list(self._deadline.items()):
            if deadline > now:
                continue
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

    def next_deadline(self) -> float | None:
        """Return the clock time at which to call due() next, or None when nothing is pending."""
        # Waiting batch_window past the first deadline lets files saved together (git checkout,
        # a refactoring) share one batch, at the cost of that much latency.
        first = min(self._deadline.values(), default=None)
        return None if first is None else first + self.batch_window

    def pending(self) -> list[Path]:
        """Return the paths waiting to become due, sorted."""
        return sorted(self._deadline)
