"""One `promptsync dev` per repository: a lock on `.promptsync/dev.lock`, held while it runs.

A second `dev` in the same repository would start a second server on the same database and a
second watcher on the same files. The lock is flock(2) on an open file: the kernel drops it when
the process ends, however it ends (SIGKILL included), so no stale lock is ever left to clear.
The file holds the holder's pid and URL, for the message the second one prints.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from promptsync.errors import ConfigError
from promptsync.sync.state import ensure_state_dir

LOCK_FILE = "dev.lock"


class DevLock:
    """The lock of one repository's `.promptsync/`, held until release() or the process ends."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, url: str) -> None:
        """Hold the lock, or ConfigError naming the `promptsync dev` that holds it."""
        ensure_state_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            pid, where = holder.get("pid", "?"), holder.get("url", "")
            at = f" on {where}" if where else ""
            raise ConfigError(
                f"promptsync dev is already running in this repository (pid {pid}{at}): use "
                f"that one, or stop it (Ctrl-C in its terminal, or kill {pid})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the next `promptsync dev` start (the file stays: its lock is what counts)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:  # the holder is writing it this very moment
        return {}
    return data if isinstance(data, dict) else {}
