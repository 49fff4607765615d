"""The installed `promptsync` command run by the tests: to its end, or in the background."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

from tests.support.live import tool
from tests.support.waiting import wait_until


def run_command(cwd: Path, env: dict[str, str], *args: str,
                input: str | None = None) -> subprocess.CompletedProcess[str]:
    """`promptsync ARGS` in ``cwd`` to its end (60 s at most), its output captured as text."""
    return subprocess.run([tool("promptsync"), *args], cwd=cwd, env=env, input=input,
                          capture_output=True, text=True, timeout=60)


class Background:
    """`promptsync ARGS` running in ``cwd``, its stderr collected line by line in ``lines``."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [tool("promptsync"), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, name=f"{args[0]}-stderr")
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, prefix: str, timeout: float, or_exit: bool = False) -> list[str]:
        """Wait for a line starting with ``prefix`` (or, with ``or_exit``, for the process to
        end); returns the lines so far."""
        wait_until(lambda: any(line.startswith(prefix) for line in self.lines)
                   or (or_exit and self.process.poll() is not None), timeout,
                   lambda: f"a line starting with {prefix!r}: {self.lines}")
        return list(self.lines)

    def end(self, sig: int = signal.SIGINT) -> int:
        """Send ``sig`` if it still runs and return its exit code (killed after 20 s)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        finally:
            self.kill()

    def kill(self) -> None:
        """Kill it if it still runs, reap it, and close its pipe (again is harmless)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
