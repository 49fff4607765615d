"""What `watch` tells the user: one line per event, and never the same news twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

from promptsync.errors import Problem
from promptsync.terminal import escape_line

RESOLVE_HINT = "promptsync pull --force takes the server's, promptsync push --force keeps yours"


def first_problem(problems: tuple[Problem, ...]) -> str:
    """``line 7: message`` for the first problem, with a count of the others."""
    if not problems:
        return "invalid prompt"
    first = problems[0]
    text = f"line {first.line}: {first.message}" if first.line else first.message
    return text + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")


def plural(count: int, word: str) -> str:
    """``1 change``, ``3 changes``."""
    return f"{count} {word}{'s' * (count != 1)}"


class EventLog:
    """Lines for the user; bad files, deletions and conflicts said once until they change."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self._lock = threading.Lock()  # the watcher's thread and the sync thread both report
        self._invalid: dict[str, str] = {}  # relpath -> what was last said about it
        self._deleted: set[str] = set()
        # slug -> (server version, local hash) said: the same pair again is no news, and a
        # file in conflict is not sent again until it is saved with other bytes.
        self._conflicts: dict[str, tuple[int | None, str]] = {}

    def __call__(self, line: str) -> None:
        # Slugs and details come from the server and from files: never let one move the
        # cursor, set the title or fake a line.
        self.log(escape_line(line))

    def invalid(self, relpath: str, slug: str, problems: tuple[Problem, ...],
                key: str = "") -> None:
        """``slug: invalid (line N: ...)``, once per file content (``key``) and problem."""
        text = first_problem(problems)
        with self._lock:
            if self._invalid.get(relpath) == key + text:
                return
            self._invalid[relpath] = key + text
        self(f"{slug}: invalid ({text})")

    def deleted(self, slug: str) -> None:
        """``slug: deleted locally (not propagated)``, once until the file is back."""
        with self._lock:
            if slug in self._deleted:
                return
            self._deleted.add(slug)
        self(f"{slug}: deleted locally (not propagated)")

    def conflict(self, slug: str, remote: int | None, sha256: str) -> None:
        """Both sides changed: said once per server version and file content."""
        with self._lock:
            if self._conflicts.get(slug) == (remote, sha256):
                return
            self._conflicts[slug] = (remote, sha256)
        self(f"{slug}: conflict: changed here and on the server (v{remote}); neither side "
                 f"touched ({RESOLVE_HINT})")

    def refused(self, slug: str, latest: int | None, base: int | None, sha256: str,
                dropped: int) -> None:
        """The server refused a save based on an older version (409)."""
        with self._lock:
            self._conflicts[slug] = (latest, sha256)
        also = f"; {plural(dropped, 'later save')} dropped" if dropped else ""
        self(f"{slug}: conflict: the server is at v{latest}, this save is based on "
                 f"v{base}; not pushed{also} ({RESOLVE_HINT})")

    def in_conflict(self, slug: str, sha256: str) -> bool:
        """Whether this content of the file was already reported in conflict."""
        with self._lock:
            known = self._conflicts.get(slug)
        return known is not None and known[1] == sha256

    def forget(self, slug: str, relpath: str | None = None) -> None:
        """The prompt is fine again: its next problem is news."""
        with self._lock:
            self._deleted.discard(slug)
            self._conflicts.pop(slug, None)
            if relpath is not None:
                self._invalid.pop(relpath, None)
