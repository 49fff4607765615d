"""Prometheus metrics (METRICS_ENABLED=true): requests by route and status, latency, fetches,
pushes, open live subscribers, webhook deliveries by outcome; summed over gunicorn's workers
when PROMETHEUS_MULTIPROC_DIR is set (give the webhook worker the same directory for its
deliveries to show).

Labels are closed sets: a route is the URL rule Flask matched (`/api/v1/projects/<p>/prompts`),
never the path, so no slug, email or key ever becomes a label and the series stay few.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request, request_started
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from webapi.live import registry as live
from webapi.webhooks import outbox

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# In the environ of every request Flask dispatches: the rule it matched ("" for none). Its
# absence marks the requests the fast fetch path answered before Flask.
ROUTE_KEY = "promptsync.route"
UNMATCHED = "<unmatched>"
# The two rules below a prompt (a slug may contain "/"); what follows "/-/" names the
# sub-resource, kept as a label only when it is one of these (tests/server/test_ops.py checks
# them against webapi.api.prompts.SUB_RESOURCES).
ITEM_RULES = frozenset({"/api/v1/projects/<p>/prompts/<path:rest>", "/api/v1/prompts/<path:rest>"})
SUB_RESOURCES = frozenset({"versions", "diff", "render", "restore", "labels", "dependents"})
PUSH_RULES = frozenset({"/api/v1/projects/<p>/prompts", "/api/v1/prompts"})
# The fast fetch path answers before Flask routes: its requests get the rule Flask would match.
FAST_PROJECT_RULE = "/api/v1/projects/<p>/prompts/<slug>"
FAST_KEY_RULE = "/api/v1/prompts/<slug>"
PROJECTS = "/api/v1/projects/"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _item_route(rule: str, path: str, method: str) -> tuple[str, str | None]:
    """The label of a request below a prompt, and 'fetch' or 'push' when it is one."""
    base = rule.replace("<path:rest>", "<slug>")
    _, _, sub = path.partition("/-/")
    if not sub:
        kind = "fetch" if method in ("GET", "HEAD") else "push" if method == "POST" else None
        return base, kind
    name = sub.split("/", 1)[0]
    if name == "labels" and sub.endswith("/history"):
        return f"{base}/-/labels/<label>/history", None
    if name == "labels":
        return f"{base}/-/labels/<label>", None
    return (f"{base}/-/{name}" if name in SUB_RESOURCES else f"{base}/-/<other>"), None


def classify(environ: dict[str, Any]) -> tuple[str, str, str | None, bool]:
    """(method, route, 'fetch' | 'push' | None, answered by the fast path) of a request."""
    method = environ.get("REQUEST_METHOD", "")
    method = method if method in METHODS else "other"
    rule = environ.get(ROUTE_KEY)
    if rule is None:  # Flask never dispatched it: the fast fetch path answered (200 or 304)
        path = environ.get("PATH_INFO", "")
        fast = FAST_PROJECT_RULE if path.startswith(PROJECTS) else FAST_KEY_RULE
        return method, fast, "fetch", True
    rule = rule or UNMATCHED
    if rule in ITEM_RULES:
        route, kind = _item_route(rule, environ.get("PATH_INFO", ""), method)
        return method, route, kind, False
    return method, rule, "push" if rule in PUSH_RULES and method == "POST" else None, False


class Metrics:
    """The app's metric families and the labelled children already in use."""

    def __init__(self) -> None:
        # A registry per app: tests build many apps in one process. In multiprocess mode the
        # values live in files shared by every process, and /metrics reads those instead.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("promptsync_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("promptsync_http_request_duration_seconds",
                                 "Time to answer an HTTP request, by route",
                                 ["method", "route"], buckets=BUCKETS, registry=self.registry)
        self.fetches = Counter("promptsync_fetches", "Prompt fetches by who answered and status",
                               ["answered_by", "status"], registry=self.registry)
        self.pushes = Counter("promptsync_pushes", "Push requests (one prompt, or a batch)",
                              ["kind", "status"], registry=self.registry)
        # Streams and long polls open now; 'livesum': the sum over the workers still running.
        self.subscribers = Gauge("promptsync_live_subscribers", "Open live subscribers",
                                 registry=self.registry, multiprocess_mode="livesum")
        self.deliveries = Counter("promptsync_webhook_deliveries",
                                  "Webhook delivery attempts by outcome", ["outcome"],
                                  registry=self.registry)
        # labels() takes a lock and builds a key on every call: the fast path's few children
        # (method, which of its two rules, status) are kept here instead.
        self._fast: dict[tuple[str, bool, str], tuple[Any, Any, Any]] = {}

    def observe(self, environ: dict[str, Any], status: str, seconds: float) -> None:
        """Count one finished request."""
        code = status[:3]
        if ROUTE_KEY in environ:
            children = self._resolve(environ, code)
        else:
            key = (environ["REQUEST_METHOD"], environ["PATH_INFO"].startswith(PROJECTS), code)
            children = self._fast.get(key) or self._fast.setdefault(
                key, self._resolve(environ, code))
        counter, histogram, extra = children
        counter.inc()
        histogram.observe(seconds)
        if extra is not None:
            extra.inc()

    def _resolve(self, environ: dict[str, Any], code: str) -> tuple[Any, Any, Any]:
        method, route, kind, fast = classify(environ)
        extra = None
        if kind == "fetch":
            extra = self.fetches.labels("fast_path" if fast else "flask", code)
        elif kind == "push":
            extra = self.pushes.labels("batch" if route in PUSH_RULES else "one", code)
        return (self.requests.labels(method, route, code), self.latency.labels(method, route),
                extra)

    def exposition(self) -> Response:
        """The Prometheus text of this process, or of every worker in multiprocess mode."""
        registry = self.registry
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        response = Response(generate_latest(registry), mimetype=None)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        response.headers["Cache-Control"] = "no-store"
        return response


def _note_route(sender: Flask, **_: Any) -> None:
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else ""


def register(app: Flask) -> Metrics:
    """GET /metrics, and the signal that tells the counters which rule a request matched."""
    metrics = Metrics()
    live.count_subscribers(app, metrics.subscribers.inc)
    outbox.count_outcomes(app, lambda outcome: metrics.deliveries.labels(outcome).inc())
    app.add_url_rule("/metrics", "metrics", metrics.exposition, methods=["GET"])
    # A signal, not a before_request hook: it observes and changes nothing a request does.
    request_started.connect(_note_route, app)
    return metrics
