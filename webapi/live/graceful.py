"""A gunicorn worker that begins to stop ends its event streams and long polls at once.

gunicorn's gthread worker, told to stop gracefully (SIGTERM: a stop, a reload's old workers, a
rolling deploy), stops accepting and waits for its open requests up to its graceful timeout
(30 s by default); an event stream never ends by itself, so the worker waited that long and was
then SIGKILLed, cutting every stream. watch() (gunicorn_conf's post_worker_init) starts a thread
that calls hub.stop_all when the worker begins to stop: each stream sends its goodbye comment
and ends cleanly, each long poll answers [], and the worker exits as soon as they are written.

The SIGTERM handler only writes a byte to a socket (it runs in the worker's main thread, which
may hold any lock); the thread does the rest. The thread also looks every second at what a stop
without a signal changes: the worker's `alive` flag (max_requests) and its parent (gone).
"""

from __future__ import annotations

import os
import select
import signal
import threading
from types import FrameType
from typing import Any

from webapi.live.hub import stop_all
from webapi.live.notify import Waker

LOOK_EVERY = 1.0  # s: how often the thread looks at the worker's flag and parent
_waker: Waker | None = None


def watch(worker: Any) -> None:
    """In a gunicorn worker, before it serves: end the live requests when it begins to stop."""
    global _waker
    waker = _waker = Waker()
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        waker.wake()
        if callable(previous):
            previous(signum, frame)  # gunicorn's own: alive = False, the graceful stop

    signal.signal(signal.SIGTERM, on_term)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn set it: signal() resets it
    threading.Thread(target=_run, args=(worker, waker), name="promptsync-graceful",
                     daemon=True).start()


def begin() -> None:
    """Stop now (gunicorn_conf's worker_int: SIGINT or SIGQUIT, the quick stop); safe in a
    signal handler."""
    if _waker is not None:
        _waker.wake()


def _run(worker: Any, waker: Waker) -> None:
    while worker.alive and worker.ppid == os.getppid():
        ready, _, _ = select.select([waker], [], [], LOOK_EVERY)
        if ready:
            break
    stop_all()
