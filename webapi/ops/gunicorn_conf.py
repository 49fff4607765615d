"""gunicorn settings for /metrics under several workers: `-c python:webapi.ops.gunicorn_conf`.

prometheus_client's multiprocess mode keeps each worker's values in files under
PROMETHEUS_MULTIPROC_DIR, and /metrics (in whichever worker answers) sums them. This module,
read by gunicorn's master before it forks a worker: makes a private folder when the variable is
unset, empties it at start (stale files of another run would be summed in), and marks a worker
that exits as dead (child_exit), as prometheus_client's documentation asks. Counters and
histograms keep a dead worker's counts, so totals never go down when gunicorn replaces one.

Each worker also ends its event streams and long polls as soon as it begins to stop (SIGTERM,
a reload, a quick stop), instead of waiting for them until its graceful timeout
(post_worker_init, worker_int; webapi/live/graceful.py).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

if "prometheus_client" in sys.modules:  # each worker would count for itself alone
    raise RuntimeError("prometheus_client was imported before PROMETHEUS_MULTIPROC_DIR was set")
if not os.environ.get(MULTIPROC_ENV):
    # Before any import of prometheus_client: it reads the variable once, at import.
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="promptsync-metrics-")
    _CREATED: str | None = os.environ[MULTIPROC_ENV]
else:
    _CREATED = None


def on_starting(server: Any) -> None:
    """Empty the folder of the values of an earlier run (gunicorn's master, once)."""
    folder = Path(os.environ[MULTIPROC_ENV])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def post_worker_init(worker: Any) -> None:
    """A worker is ready to serve: end its live requests when it begins to stop."""
    from webapi.live import graceful

    graceful.watch(worker)


def worker_int(worker: Any) -> None:
    """A worker's quick stop (SIGINT, SIGQUIT): its live requests end now, not at SIGKILL."""
    from webapi.live import graceful

    graceful.begin()


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges leave the sum (counters keep what it counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """Remove the folder this module made (one the operator named is theirs to keep)."""
    if _CREATED is not None:
        shutil.rmtree(_CREATED, ignore_errors=True)
