"""/metrics under a real `gunicorn -w 2` with the shipped config (webapi/ops/gunicorn_conf.py):
the counters are the sum over both workers, whichever worker answers the scrape."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gunicorn import Gunicorn
from tests.support.waiting import wait_until

MAX_REQUESTS = 400  # enough for the kernel to hand both workers some, many times over


class MetricsGunicorn(Gunicorn):
    """Gunicorn with the metrics config, as the README's deployment section runs it."""

    project_config = True  # its hooks are under test (Gunicorn's default, said here)


def logged(server: Gunicorn, path: str, count: int) -> Callable[[], bool]:
    """Whether the access log shows ``count`` requests to ``path``."""
    return lambda: len(server.served_by(path)) == count


def readyz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "promptsync_http_requests_total" and sample.labels == {
                    "method": "GET", "route": "/readyz", "status": "200"}:
                return sample.value
    return 0.0


def test_metrics_are_summed_over_both_workers(tmp_path: Path, sqlite_url: str) -> None:
    # TMPDIR: the folder the config makes for the workers' values, to see it made and removed.
    env = {"METRICS_ENABLED": "true", "LOG_FORMAT": "json", "TMPDIR": str(tmp_path)}
    with MetricsGunicorn(tmp_path / "srv", sqlite_url, workers=2, env=env) as server, \
            httpx.Client(base_url=server.url, timeout=10) as web:
        assert len(list(tmp_path.glob("promptsync-metrics-*"))) == 1
        workers = set(server.worker_pids())
        sent = 0
        # Each request on a new connection (sync workers close it anyway): both workers serve.
        while sent < MAX_REQUESTS and {pid for pid, _ in server.served_by("/readyz")} != workers:
            assert web.get("/readyz", headers={"Connection": "close"}).status_code == 200
            sent += 1
        wait_until(logged(server, "/readyz", sent), 10, "the access log to show every /readyz")
        served = server.served_by("/readyz")
        assert {pid for pid, _ in served} == workers, served  # both workers answered some
        scrapes, scrapers = 0, set[int]()
        while scrapes < MAX_REQUESTS and scrapers != workers:  # a scrape from each worker
            answer = web.get("/metrics", headers={"Connection": "close"})
            assert answer.status_code == 200
            assert readyz_count(answer.text) == sent, answer.text  # both workers' counts
            scrapes += 1
            wait_until(logged(server, "/metrics", scrapes), 10, "the access log")
            scrapers = {pid for pid, _ in server.served_by("/metrics")}
        assert scrapers == workers
        # And the request log: one JSON line per request, from either worker.
        lines = server.log_path.read_text().splitlines()
        paths = [json.loads(line)["path"] for line in lines if line.startswith("{")]
        assert paths.count("/readyz") == sent
    assert list(tmp_path.glob("promptsync-metrics-*")) == []  # on_exit removed it
