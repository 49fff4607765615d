"""Several webhook workers at once: on Postgres two workers, each with its own app and
connections, share one outbox and never send a delivery twice; and the worker commands
(`flask --app webapi webhooks run --once` in-process, `python -m webapi.webhooks` as a real
process) send."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from flask import Flask

from tests.support.app import GREETING, make_account, running_app
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import Receiver
from webapi.webhooks.worker import Worker

SECRET = "s3cret-for-webhook-tests"
PROMPTS, VERSIONS = 20, 3  # 60 deliveries over 20 prompts: order per prompt leaves work for both


def _seed(app: Flask, url: str) -> int:
    """A project whose webhook wants every version; PROMPTS × VERSIONS versions pushed."""
    account = make_account(app, "two@example.com", "two")
    web = app.test_client()
    made = web.post("/api/v1/projects/two/webhooks", headers=account.headers(),
                    json={"url": url, "events": ["version.created"], "secret": SECRET})
    assert made.status_code == 201, made.get_json()
    for n in range(VERSIONS):
        batch = [{"slug": f"w/p{i}", "source": GREETING + f"# {n}\n"} for i in range(PROMPTS)]
        pushed = web.post("/api/v1/projects/two/prompts", headers=account.headers(),
                          json={"prompts": batch})
        assert pushed.status_code == 200, pushed.get_json()
    return PROMPTS * VERSIONS


def test_two_workers_on_postgres_never_send_a_delivery_twice(postgres_url: str,
                                                            shared_apps) -> None:  # type: ignore[no-untyped-def]
    shared_apps.empty_postgres(postgres_url)
    receiver = Receiver(SECRET, delay=0.002)  # a receiver that takes a moment, like a real one
    receiver.up()
    stop = threading.Event()
    sent: Counter[int] = Counter()
    try:
        with running_app(postgres_url, WEBHOOK_ALLOW_PRIVATE=True) as app:
            total = _seed(app, receiver.url)
        with running_app(postgres_url, WEBHOOK_ALLOW_PRIVATE=True) as one, \
                running_app(postgres_url, WEBHOOK_ALLOW_PRIVATE=True) as two:

            def work(number: int, app: Flask) -> None:
                worker = Worker(app, idle_wait=0.02)
                while not stop.is_set():
                    claimed = worker.run_once()
                    sent[number] += claimed
                    if not claimed:
                        stop.wait(0.02)

            threads = [threading.Thread(target=work, args=(n, a), name=f"webhook-worker-{n}")
                       for n, a in ((1, one), (2, two))]
            for thread in threads:
                thread.start()
            try:
                wait_until(lambda: len(receiver.accepted()) >= total, 60,
                           lambda: f"{total} deliveries, {len(receiver.accepted())} so far")
            finally:
                stop.set()
                for thread in threads:
                    thread.join(10)
    finally:
        receiver.down()
    ids = Counter(r.delivery_id for r in receiver.all())
    assert len(ids) == total and set(ids.values()) == {1}, ids.most_common(3)
    assert all(r.signed for r in receiver.all())
    assert sent[1] > 0 and sent[2] > 0, sent  # both took part
    for i in range(PROMPTS):
        seen = [r.event["details"]["version"] for r in receiver.all()
                if r.event["slug"] == f"w/p{i}"]
        assert seen == list(range(1, VERSIONS + 1)), (i, seen)


def test_the_worker_commands_send_from_a_real_process(sqlite_template: Path,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "cmd.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    receiver = Receiver(SECRET)
    receiver.up()
    try:
        with running_app(url, WEBHOOK_ALLOW_PRIVATE=True) as app:
            account = make_account(app, "cmd@example.com", "cmd")
            made = app.test_client().post(
                "/api/v1/projects/cmd/webhooks", headers=account.headers(),
                json={"url": receiver.url, "events": ["*"], "secret": SECRET})
            assert made.status_code == 201, made.get_json()
            # `flask --app webapi webhooks run --once`, through Flask's CLI runner.
            once = app.test_cli_runner().invoke(args=["webhooks", "run", "--once"])
            assert once.exit_code == 0, once.output
            assert "1 attempts made" in once.output
            assert [r.action for r in receiver.accepted()] == ["webhook.created"]
            # The production process: it keeps sending until SIGTERM.
            pushed = app.test_client().post("/api/v1/projects/cmd/prompts/a/b",
                                            headers=account.headers(),
                                            json={"source": GREETING})
            assert pushed.status_code == 201
        env = {**os.environ, "DATABASE_URL": url, "WEBHOOK_ALLOW_PRIVATE": "true",
               "SECRET_KEY": "test-secret-not-for-production", "LOG_FORMAT": "off"}
        process = subprocess.Popen([sys.executable, "-m", "webapi.webhooks"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: len(receiver.accepted()) == 2 or process.poll() is not None, 30,
                       "the worker process to send the version.created delivery")
            assert receiver.accepted()[1].action == "version.created"
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=20)
        assert process.returncode == 0, output
        assert "delivered" in output
    finally:
        receiver.down()
