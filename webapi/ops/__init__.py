"""Operations: /healthz and /readyz, /metrics (opt-in), and one log line per request."""

from __future__ import annotations

from flask import Flask

from webapi.ops import health
from webapi.ops.observe import Observed
from webapi.ops.request_log import request_log


def register(app: Flask) -> None:
    """Add the probes and /metrics, and wrap the app (fast fetch path included) to observe.

    Called last in create_app, so that the wrapper sees every request, those the fast fetch
    path answers before Flask included. With METRICS_ENABLED off and LOG_FORMAT=off nothing
    wraps the app: a request costs what it did before.
    """
    health.register(app)
    metrics = None
    if app.config.get("METRICS_ENABLED"):
        # prometheus_client is imported only here: it reads PROMETHEUS_MULTIPROC_DIR at import.
        from webapi.ops import metrics as prometheus

        metrics = prometheus.register(app)
    log = request_log(app.config.get("LOG_FORMAT", "text"))
    if metrics is not None or log is not None:
        app.wsgi_app = Observed(app.wsgi_app, metrics, log)  # type: ignore[method-assign]
