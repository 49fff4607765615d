"""Running the watch daemon in the foreground, for `watch` and `dev`: start, wait, stop cleanly.

The main thread only waits: the watcher and the sync thread do the work. Ctrl-C (or `kill -INT`)
and SIGTERM end the wait, the daemon stops (what is queued stays in the journal), and Ctrl-C
exits 130 with that one line (not the group's "interrupted" of other commands).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from promptsync.cli.context import Obj, display
from promptsync.cli.errors import EXIT_INTERRUPTED, describe
from promptsync.cli.output import echo_err
from promptsync.errors import ApiError, PromptSyncError

if TYPE_CHECKING:
    from promptsync.sync.engine import SyncEngine
    from promptsync.watch.daemon import WatchDaemon


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread while it waits."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None]) -> bool:
    """Run start(), wait for Ctrl-C or SIGTERM, then stop(); True when it was Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    # A shell starts `cmd &` with SIGINT ignored, and Python then keeps ignoring it: honour
    # `kill -INT` as the documented way to stop, like Ctrl-C.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted = False
    try:
        start()
        threading.Event().wait()  # the worker threads do everything; a signal ends this wait
    except KeyboardInterrupt:
        interrupted = True
    except _Terminated:
        pass
    finally:
        # A second signal must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            stop()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)
    return interrupted


def watch_daemon(obj: Obj, engine: SyncEngine, refused_key: str | None = None,
                 **options: Any) -> WatchDaemon:
    """A WatchDaemon over ``engine`` that reports on stderr, errors worded as the CLI words them
    (a key the server refuses with ``refused_key``'s advice, when given)."""
    from promptsync.watch.daemon import WatchDaemon  # start-up cost: watchdog, only when watching

    def say(exc: PromptSyncError) -> str:
        if refused_key is not None and isinstance(exc, ApiError) and exc.status == 401:
            return f"the server refused the API key ({exc.detail.rstrip('.')}): {refused_key}"
        return describe(exc, obj)

    # Told of server-side changes by the event stream; it polls only while that is down.
    # A bad file is named as `lint` names it: relative to the working directory.
    return WatchDaemon(engine, log=echo_err, describe=say, name=display, listen=True, **options)


def finish(daemon: WatchDaemon, interrupted: bool) -> None:
    """Say, in one line, that it stopped and how many saves wait for the next run; Ctrl-C
    then exits 130."""
    if interrupted and sys.stderr.isatty():
        echo_err()  # past the ^C the terminal echoed
    left = daemon.outbox.count()
    note = f"; {left} change{'s' * (left != 1)} queued for the next run" if left else ""
    echo_err(f"stopped{note}")
    if interrupted:
        # Ctrl-C is how watch and dev are meant to end: "stopped" said it, so exit 130 without
        # the group's "interrupted" line.
        raise click.exceptions.Exit(EXIT_INTERRUPTED)
