"""`python -m webapi.devserver`: migrate, then serve the app on loopback; `promptsync dev` runs it
(with --webhooks: and send webhook deliveries from a thread).

A child process of `promptsync dev` (so that the CLI never imports Flask): the database and
SECRET_KEY come from the environment as for any deployment. It stops on SIGTERM or SIGINT, and
on its own when the parent that started it is gone (a `promptsync dev` killed with SIGKILL must
not leave a server holding the port).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import WSGIRequestHandler

PARENT_CHECK_INTERVAL = 0.5
# promptsync.dev.stack passes a token; /healthz sends it back, so that `promptsync dev` knows the
# answer on its port comes from the server it started (and not from another that holds the port).
INSTANCE_ENV = "PROMPTSYNC_DEV_INSTANCE"
INSTANCE_HEADER = "X-Promptsync-Dev-Instance"
# The file where promptsync.dev.stack keeps the key dev and watch use (the admin's DEV_KEY_FILE).
KEY_FILE_ENV = "PROMPTSYNC_DEV_KEY_FILE"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m webapi.devserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--webhooks", action="store_true",
                        help="also send webhook deliveries (a worker thread)")
    return parser


class _Identified:
    """WSGI middleware: /healthz answers carry the instance token of this process."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/healthz":
            return self.app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*headers, (INSTANCE_HEADER, self.token)], *rest)

        return self.app(environ, start)


class _OneLinePerRequest(WSGIRequestHandler):
    """werkzeug's handler without its own line per request: the app logs one (webapi.ops)."""

    def log_request(self, *args: Any) -> None:
        pass


class _Stopper:
    """Call server.shutdown() once, from a thread of its own (it waits for serve_forever)."""

    def __init__(self, shutdown: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=shutdown, name="devserver-shutdown", daemon=True)
        self._lock = threading.Lock()

    def __call__(self, *_: object) -> None:
        with self._lock:
            if self._thread.ident is None:
                self._thread.start()


def _watch_parent(parent: int, done: threading.Event, stop: _Stopper) -> None:
    # Polling is the portable way: PR_SET_PDEATHSIG is Linux-only and fires on thread exit.
    while not done.wait(PARENT_CHECK_INTERVAL):
        if os.getppid() != parent:
            stop()
            return


def main(argv: list[str] | None = None) -> int:
    """Upgrade the schema, serve until told to stop; 3 when the port cannot be used."""
    args = _parser().parse_args(argv)
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from webapi import create_app
    from webapi.webhooks.worker import Worker

    app = create_app()
    app.config["DEV_KEY_FILE"] = os.environ.get(KEY_FILE_ENV)
    with app.app_context():
        upgrade()
    token = os.environ.get(INSTANCE_ENV)
    if token:
        app.wsgi_app = _Identified(app.wsgi_app, token)  # type: ignore[method-assign]
    try:
        server = make_server(args.host, args.port, app, threaded=True,
                             request_handler=_OneLinePerRequest)
    except (OSError, SystemExit) as exc:  # werkzeug exits itself when the port is taken
        reason = exc.strerror if isinstance(exc, OSError) else "address already in use"
        print(f"cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr,
              flush=True)
        return 3
    stop = _Stopper(server.shutdown)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done = threading.Event()
    if args.webhooks:  # one worker: SQLite's outbox has one sender (see docs/ARCHITECTURE.md)
        threading.Thread(target=Worker(app).run, args=(done,), name="devserver-webhooks",
                         daemon=True).start()
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, done, stop),
                         name="devserver-parent", daemon=True).start()
    print(f"serving on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        done.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
