"""webhook-delay: a push answered (its event committed) -> its webhook delivery at a receiver.

The API runs as deployed (`gunicorn -w 2`), the delivery worker as its own process
(`python -m webapi.webhooks`), both on the same database; the receiver is an HTTP server in
this process on loopback, checking each signature. Pushes go one at a time, each timed from its
201 to the POST that carries its event, so the figure is the outbox's delay, not a queue's.
"""

from __future__ import annotations

import contextlib
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from .common import (
    GREETING,
    HOST,
    Options,
    Server,
    Table,
    database,
    log,
    seed_account,
    server_env,
    usable_backends,
)

SECRET = "whsec_benchmark-secret-0123456789"
WAIT = 10.0  # seconds a delivery may take before the run fails


class _Receiver:
    """Records when each event id arrived (monotonic), and whether every signature held."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.forged = 0
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                from webapi.webhooks.signing import verify

                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.monotonic()
                event = json.loads(body)
                ok = verify(SECRET, self.headers["X-Promptsync-Timestamp"], body,
                            self.headers["X-Promptsync-Signature"], time.time())
                with receiver.changed:
                    receiver.arrived.setdefault(int(event["id"]), now)
                    receiver.forged += 0 if ok else 1
                    receiver.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, event_id: int) -> float:
        end = time.monotonic() + WAIT
        with self.changed:
            while event_id not in self.arrived:
                left = end - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"event {event_id} not delivered within {WAIT:g} s")
                self.changed.wait(left)
            return self.arrived[event_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def _worker(url: str, opts: Options) -> Iterator[subprocess.Popen[bytes]]:
    env = {**server_env(url), "WEBHOOK_ALLOW_PRIVATE": "true", "LOG_FORMAT": "off"}
    log_path = opts.workdir / "webhook-worker.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "webapi.webhooks"], cwd=opts.source,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(opts: Options) -> list[Table]:
    pushes = 30 if opts.quick else 200
    table = Table("webhook-delay: push answered -> delivery received (ms)",
                  ["backend", "deliveries", "p50", "p95", "max", "mean"])
    backends, table.notes = usable_backends(opts)
    for backend in backends:
        log(f"webhook-delay on {backend}: {pushes} pushes")
        receiver = _Receiver()
        try:
            with database(backend, opts) as url:
                env = {**server_env(url), "WEBHOOK_ALLOW_PRIVATE": "true", "LOG_FORMAT": "off"}
                with Server("promptsync", "webapi:create_app()", env, workdir=opts.workdir,
                            source=opts.source).start() as server, _worker(url, opts):
                    account = seed_account(server.base)
                    delays = _measure(server.base, account.headers("admin"), account.project,
                                      receiver, pushes)
        finally:
            receiver.close()
        table.rows.append([backend, str(len(delays)), f"{_pct(delays, 0.5):.0f}",
                           f"{_pct(delays, 0.95):.0f}", f"{max(delays):.0f}",
                           f"{statistics.mean(delays):.0f}"])
        if receiver.forged:
            table.failures.append(f"{backend}: {receiver.forged} deliveries failed to verify")
    table.notes.append("gunicorn -w 2 for the API, one `python -m webapi.webhooks` worker "
                       "(it looks at an idle outbox every 0.1 s), pushes one at a time, "
                       "0-250 ms apart at random")
    return [table]


def _measure(base: str, headers: dict[str, str], project: str, receiver: _Receiver,
             pushes: int) -> list[float]:
    with httpx.Client(base_url=base, timeout=30, headers=headers) as web:
        made = web.post(f"/api/v1/projects/{project}/webhooks", json={
            "url": receiver.url, "events": ["version.created"], "secret": SECRET})
        if made.status_code != 201:
            raise RuntimeError(f"webhook not created: {made.status_code} {made.text[:300]}")
        delays = []
        for n in range(pushes):
            # A random gap: pushes in lockstep with the worker's idle look would all land at
            # the same point of its wait and measure that point, not the delay's spread.
            time.sleep(random.uniform(0, 0.25))
            pushed = web.post(f"/api/v1/projects/{project}/prompts/bench/hook{n % 10}",
                              json={"source": GREETING + f"# {n}\n"})
            answered = time.monotonic()
            if pushed.status_code != 201:
                raise RuntimeError(f"push failed: {pushed.status_code} {pushed.text[:300]}")
            event = web.get(f"/api/v1/projects/{project}/events?limit=1").json()["events"][0]
            delays.append((receiver.wait_for(int(event["id"])) - answered) * 1000)
    return delays
