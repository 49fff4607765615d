"""Real server processes under faults: SIGKILL in the middle of a big push, and a bounded mixed
load from several processes against `gunicorn -w 2` on SQLite (zero 5xx, gap-free, flat RSS).

PROMPTSYNC_LOAD_SECONDS sets the load's length (5 s by default, ~8 s with set-up; 60 for the
full run). Five seconds of 5 clients on 2 workers is already hundreds of fetches, pushes and
label moves racing on the same prompts, which is what the gap-free and zero-5xx checks need;
a longer run mostly buys the RSS check a longer window, which the full run gives it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.gunicorn import Gunicorn
from tests.support.live import create_account, make_prompt_repo, prompt_source, tool
from tests.support.tcp_proxy import TcpProxy, tcp_queues
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery"
LOAD_SECONDS = float(os.environ.get("PROMPTSYNC_LOAD_SECONDS", "5"))
WARM_UP = min(3.0, LOAD_SECONDS / 4)
BATCH = b"POST /api/v1/projects/demo/prompts HTTP/"  # the batch push, not a one-prompt push


def _server(tmp_path: Path, template: Path, workers: int = 2) -> Gunicorn:
    db = tmp_path / "server.db"
    shutil.copyfile(template, db)
    return Gunicorn(tmp_path / "srv", f"sqlite:///{db}", workers=workers)


def _keys(url: str) -> dict[str, str]:
    create_account(url, "ann@example.com", PASSWORD, "demo")
    with httpx.Client(base_url=url + "/api/v1", timeout=10) as web:
        csrf = web.post("/auth/login", json={"email": "ann@example.com",
                                             "password": PASSWORD}).json()["csrf_token"]
        return {role: web.post("/projects/demo/keys", json={"name": role, "role": role},
                               headers={"X-CSRF-Token": csrf}).json()["key"]
                for role in ("editor", "admin")}


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return list(conn.execute(sql))


def _assert_gap_free(db: Path) -> int:
    rows = _rows(db, "SELECT p.slug, p.latest_version, count(v.id), min(v.version), "
                     "max(v.version) FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id "
                     "GROUP BY p.id")
    for slug, latest, count, low, high in rows:
        assert (count, low, high) == (latest, 1, latest), (slug, latest, count, low, high)
    return sum(int(str(r[2])) for r in rows)


def _stored(db: Path) -> dict[str, str]:
    """{slug: source} of every stored version, after checking each is whole and counted."""
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]
    rows = _rows(db, "SELECT p.slug, v.source, v.sha256 FROM prompt_versions v "
                     "JOIN prompts p ON p.id = v.prompt_id")
    for slug, source, sha in rows:
        assert hashlib.sha256(str(source).encode()).hexdigest() == sha, slug
    # No prompt row without its version, no version without its event: nothing committed half.
    assert _rows(db, "SELECT count(*) FROM prompts")[0][0] == len(rows)
    events = _rows(db, "SELECT count(*) FROM events WHERE action = 'version.created'")[0][0]
    assert events == len(rows)
    return {str(slug): str(source) for slug, source, _ in rows}


def _batch_posts(server: Gunicorn) -> list[str]:
    """The status of every batch push in the server's access log, in order."""
    lines = server.access_log.read_text().splitlines() if server.access_log.exists() else []
    return [line.split()[1] for line in lines
            if line.split()[2:] == ["POST", "/api/v1/projects/demo/prompts"]]


def _journal(repo: Path) -> list[object]:
    return list(json.loads((repo / ".promptsync" / "state.json").read_text())["journal"])


@pytest.mark.slow
def test_server_killed_during_a_big_push_then_retried_makes_no_duplicate(
    tmp_path: Path, sqlite_template: Path
) -> None:
    files = 1000  # two batches of 500, sent at once by the client's two upload threads
    sources = {f"bulk/d{i % 10}/p{i}": prompt_source(f"n{i} {{{{ name }}}}")
               for i in range(files)}
    server = _server(tmp_path, sqlite_template)
    db = tmp_path / "server.db"
    with server, TcpProxy("127.0.0.1", server.port) as proxy:
        key = _keys(server.url)["editor"]
        repo = tmp_path / "repo"
        make_prompt_repo(repo, f"http://127.0.0.1:{proxy.port}", "demo",
                         {f"{slug}.yaml": text for slug, text in sources.items()})
        # The kill must find the push in the middle, whatever the machine's speed: one batch
        # is stored but its answer never reaches the client, and the other stops after its
        # first 4 KiB, so the server holds the start of that body and waits for the rest.
        stored_unheard = proxy.hold_next(BATCH, answer=True)
        half_sent = proxy.hold_next(BATCH, upload=4096)
        env = {**os.environ, "PROMPTSYNC_API_KEY": key, "XDG_CONFIG_HOME": str(tmp_path / "x")}
        push = subprocess.Popen([tool("promptsync"), "push"], cwd=repo, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def caught() -> bool:
                return half_sent.holding.is_set() and stored_unheard.holding.is_set()

            wait_until(lambda: caught() or push.poll() is not None, 60, "both batches caught")
            assert caught(), "the push ended before the proxy caught both batches"
            # Server-side evidence that it holds part of the second batch: every byte given
            # to it is acknowledged and read by the worker, and that is less than the request.
            assert half_sent.head_length is not None and half_sent.content_length is not None
            assert half_sent.uploaded == 4096 < half_sent.head_length + half_sent.content_length
            wait_until(lambda: tcp_queues(half_sent.upstream_port, server.port) == (0, 0)
                       and tcp_queues(server.port, half_sent.upstream_port) == (0, 0), 30,
                       lambda: "the worker to read the first 4 KiB of the held batch: "
                               f"{tcp_queues(server.port, half_sent.upstream_port)}")
            assert stored_unheard.withheld.startswith(b"HTTP/1.1 200 "), stored_unheard.withheld
            assert push.poll() is None  # the client is still waiting on both
            server.kill()  # SIGKILL: master and workers, no goodbye
            proxy.down()  # and every connection dies with it, the withheld answer unsent
        except BaseException:
            push.kill()  # a failed check above: no waiting for the client to give up
            print("promptsync push:", push.communicate(timeout=60)[1])
            raise
        _, stderr = push.communicate(timeout=60)
        assert push.returncode == 1, stderr
        assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("error:")
        # Nothing half-written: exactly the answered batch is stored, whole, with its events.
        stored = _stored(db)
        assert len(stored) == files // 2
        assert all(sources[slug] == source for slug, source in stored.items())
        assert len(_journal(repo)) == files  # the client heard of none of it
        proxy.up()
        server.restart_on_same_port()
        logged = len(_batch_posts(server))
        retry = subprocess.run([tool("promptsync"), "push"], cwd=repo, env=env, timeout=120,
                               capture_output=True, text=True)
        assert retry.returncode == 0, retry.stderr
        # The journal recognised the stored batch by hash: only the other half is sent again,
        # in one request.
        assert f"pushed {files // 2} new versions" in retry.stderr, retry.stderr
        assert _batch_posts(server)[logged:] == ["200"]
        assert _journal(repo) == []
        status = subprocess.run([tool("promptsync"), "status", "--exit-code"], cwd=repo,
                                env=env, timeout=120, capture_output=True, text=True)
        assert status.returncode == 0, status.stdout + status.stderr
    assert _rows(db, "SELECT count(*), max(version) FROM prompt_versions")[0] == (files, 1)
    assert _assert_gap_free(db) == files
    assert _stored(db) == sources


@pytest.mark.slow
def test_mixed_load_from_several_processes(tmp_path: Path, sqlite_template: Path) -> None:
    server = _server(tmp_path, sqlite_template)
    db = tmp_path / "server.db"
    worker = Path(__file__).resolve().parents[1] / "support" / "load_worker.py"
    with server:
        keys = _keys(server.url)
        with httpx.Client(base_url=server.url + "/api/v1/projects/demo/prompts",
                          headers={"X-API-Key": keys["admin"]}, timeout=10) as admin:
            for i in range(5):
                slug = f"load/p{i}"
                assert admin.post(f"/{slug}", json={"source": prompt_source()}).status_code == 201
                assert admin.put(f"/{slug}/-/labels/staging",
                                 json={"version": 1}).status_code == 200
        plan = [("fetch", "editor"), ("fetch", "editor"), ("push", "editor"),
                ("push", "editor"), ("label", "editor")]
        procs = [subprocess.Popen([sys.executable, str(worker), server.url, keys[role], kind,
                                   str(LOAD_SECONDS), str(seed)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for seed, (kind, role) in enumerate(plan)]
        time.sleep(WARM_UP)
        warm = server.rss_kib()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=LOAD_SECONDS + 60)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
        end = server.rss_kib()
        assert server.process is not None and server.process.poll() is None
    totals: dict[str, int] = {}
    for result in results:
        for status, count in result["statuses"].items():
            totals[status] = totals.get(status, 0) + count
        assert result["errors"] == [], result["errors"]
    assert not any(int(s) >= 500 or int(s) == 0 for s in totals), totals
    assert sum(totals.values()) > 20 * LOAD_SECONDS, totals  # real load, not a trickle
    versions = _assert_gap_free(db)
    assert versions > 5
    events = _rows(db, "SELECT count(*) FROM events WHERE action = 'version.created'")[0][0]
    assert events == versions
    growth = end - warm
    assert growth < max(30 * 1024, warm // 4), (warm, end)  # KiB: flat, modest growth allowed
