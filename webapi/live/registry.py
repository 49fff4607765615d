"""The app's hub, made on first use from its config, and the commit hooks that wake it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask

from webapi.extensions import db
from webapi.live.hub import Hub, Settings, wake_all
from webapi.live.notify import install_commit_hooks

_KEY = "promptsync.live"
_COUNTED = "promptsync.live.counted"
_make = threading.Lock()


def install(app: Flask) -> None:
    """Let commits that log events wake this process's hubs (idempotent)."""
    install_commit_hooks(wake_all)
    app.extensions.setdefault(_KEY, None)


def count_subscribers(app: Flask, counted: Callable[[int], None]) -> None:
    """Tell `counted` of each subscriber the app's hub adds (+1) or drops (-1); before the hub
    is made (the first subscriber makes it)."""
    app.extensions[_COUNTED] = counted


def hub_of(app: Flask) -> Hub:
    """The app's hub (one per app and process)."""
    hub = app.extensions.get(_KEY)
    if hub is None:
        with _make:
            hub = app.extensions.get(_KEY)
            if hub is None:
                config = app.config
                settings = Settings(poll=float(config["LIVE_POLL_SECONDS"]),
                                    queue_size=int(config["LIVE_QUEUE_SIZE"]),
                                    linger=float(config["LIVE_LINGER_SECONDS"]))
                with app.app_context():
                    hub = Hub(db.engine, settings, app.extensions.get(_COUNTED))
                app.extensions[_KEY] = hub
    assert isinstance(hub, Hub)
    return hub
