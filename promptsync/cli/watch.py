"""`promptsync watch`: every save becomes a version, until Ctrl-C."""

from __future__ import annotations

import click

from promptsync.cli.context import Obj, display, pass_obj
from promptsync.cli.daemon import finish, run_until_signalled, watch_daemon
from promptsync.cli.output import echo_err


@click.command()
@click.option("--poll-interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between checks for server-side changes while the event stream "
                   "is down (or the server has none).")
@click.option("--polling", is_flag=True, help="Watch by polling the files (network drives).")
@pass_obj
def watch(obj: Obj, poll_interval: float, polling: bool) -> None:
    """Push every save as a new version; pull server-side changes into unmodified files."""
    engine = obj.engine()
    daemon = watch_daemon(obj, engine, poll_interval=poll_interval,
                          watcher_options={"force_polling": polling})

    def start() -> None:
        daemon.start()
        kind = daemon.watcher.observer_kind if daemon.watcher else "?"
        echo_err(f"watching {display(engine.dir)}/ ({kind}) for project '{engine.project}' on "
                 f"{engine.server}; Ctrl-C to stop")

    finish(daemon, run_until_signalled(start, daemon.stop))


COMMANDS = [watch]
