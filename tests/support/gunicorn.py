"""A real `gunicorn -w N` server on a loopback port, for tests that need several processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support.live import LiveServer, tool

# Each request's worker pid, status and request line: proves which process served what.
ACCESS_FORMAT = "%(p)s %(s)s %(m)s %(U)s"
PROJECT_CONFIG = "python:webapi.ops.gunicorn_conf"


class Gunicorn(LiveServer):
    """``gunicorn -w workers "webapi:create_app()"``; a LiveServer with worker pids and RSS."""

    name = "gunicorn"
    # The config the README deploys with: multiprocess /metrics, and workers that end their
    # event streams at once when stopped (else a stop with a stream open waits out the
    # graceful timeout, 2 s a server here).
    project_config = True

    def __init__(self, workdir: Path, database_url: str | None = None, workers: int = 2,
                 env: dict[str, str] | None = None) -> None:
        super().__init__(workdir, database_url, {
            # Every worker must sign and read the same session cookies.
            "SECRET_KEY": "gunicorn-test-secret", **(env or {})})
        self.workers = workers
        self.given_database = database_url
        self.access_log = self.workdir / "access.log"

    def command(self) -> list[str]:
        config = ["-c", PROJECT_CONFIG] if self.project_config else []
        return [tool("gunicorn"), *config, "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                "--access-logfile", str(self.access_log), "--access-logformat", ACCESS_FORMAT,
                "--timeout", "60", "--graceful-timeout", "2", "webapi:create_app()"]

    def ready(self) -> bool:
        """/healthz answers and every worker has started."""
        return super().ready() and len(self.worker_pids()) == self.workers

    def restart_on_same_port(self) -> Gunicorn:
        """Start again after a stop or a kill, on the same port and database."""
        return self.start(migrate=False)

    def kill(self) -> None:
        """SIGKILL the master and its workers at once (no graceful anything)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        """The pids of the master's children (the workers)."""
        if self.process is None:
            return []
        try:
            text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def rss_kib(self) -> int:
        """The resident memory of master and workers together, in KiB."""
        total = 0
        for pid in [p for p in [self.process.pid if self.process else None] if p] + \
                self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total

    def served_by(self, path: str) -> list[tuple[int, int]]:
        """(worker pid, status) of every logged request to ``path``, in order."""
        rows = []
        if self.access_log.exists():
            for line in self.access_log.read_text().splitlines():
                pid, status, _method, url = line.split(" ", 3)
                pid = pid.strip("<>")
                if url == path:
                    rows.append((int(pid), int(status)))
        return rows

    def __enter__(self) -> Gunicorn:
        # A database handed in is migrated already (a copied template, or the test Postgres).
        return self.start(migrate=self.given_database is None)
