"""The WSGI wrapper around the whole app (fast fetch path included) that times each request,
then hands it to the metrics and the request log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # prometheus_client must not load before PROMETHEUS_MULTIPROC_DIR is read
    from webapi.ops.metrics import Metrics
    from webapi.ops.request_log import RequestLog

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Observed:
    """Calls the app, then observe(environ, status, seconds) once it has answered."""

    def __init__(self, app: WSGIApp, metrics: Metrics | None, log: RequestLog | None) -> None:
        self.app = app
        self.sinks = [sink for sink in (metrics.observe if metrics else None, log) if sink]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        started = perf_counter()
        status = "500"  # what the server answers when the app raises before it starts one

        def start(code: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            nonlocal status
            status = code
            return start_response(code, headers, *exc_info)

        try:
            return self.app(environ, start)
        finally:
            # The time to the app's answer: every body here is built whole before it returns
            # (no view streams), so this is the time to the last byte but for the socket write.
            seconds = perf_counter() - started
            for sink in self.sinks:
                sink(environ, status, seconds)
