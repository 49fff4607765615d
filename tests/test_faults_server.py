"""Real server processes under faults: SIGKILL in the middle of a big push, and a bounded mixed
load from several processes against `gunicorn -w 2` on SQLite (zero 5xx, gap-free, flat RSS).

PROMPTSYNC_LOAD_SECONDS sets the load's length (12 s by default, ~15 s with set-up; 60 for the
full run).
"""

from __future__ import annotations

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
from gunicorn_live import Gunicorn
from live import create_account, make_prompt_repo, prompt_source, tool

PASSWORD = "correct horse battery"
LOAD_SECONDS = float(os.environ.get("PROMPTSYNC_LOAD_SECONDS", "12"))
WARM_UP = min(3.0, LOAD_SECONDS / 4)


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


@pytest.mark.slow
def test_server_killed_during_a_big_push_then_retried_makes_no_duplicate(
    tmp_path: Path, sqlite_template: Path
) -> None:
    files = 1000  # two batches of 500: the kill lands between or inside them
    server = _server(tmp_path, sqlite_template)
    db = tmp_path / "server.db"
    with server:
        key = _keys(server.url)["editor"]
        repo = tmp_path / "repo"
        make_prompt_repo(repo, server.url, "demo", {
            f"bulk/d{i % 10}/p{i}.yaml": prompt_source(f"n{i} {{{{ name }}}}")
            for i in range(files)})
        env = {**os.environ, "PROMPTSYNC_API_KEY": key, "XDG_CONFIG_HOME": str(tmp_path / "x")}
        push = subprocess.Popen([tool("promptsync"), "push"], cwd=repo, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        stored = 0
        while time.monotonic() < deadline and push.poll() is None:
            stored = int(str(_rows(db, "SELECT count(*) FROM prompt_versions")[0][0]))
            if stored:
                server.kill()  # SIGKILL: master and workers, no goodbye
                break
            time.sleep(0.005)
        _, stderr = push.communicate(timeout=60)
        if stored == 0 or stored == files:
            pytest.skip(f"the push was not caught in the middle ({stored} of {files} stored)")
        assert push.returncode == 1, stderr
        assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith("error:")
        server.restart_on_same_port()
        retry = subprocess.run([tool("promptsync"), "push"], cwd=repo, env=env, timeout=120,
                               capture_output=True, text=True)
        assert retry.returncode == 0, retry.stderr
        status = subprocess.run([tool("promptsync"), "status", "--exit-code"], cwd=repo,
                                env=env, timeout=120, capture_output=True, text=True)
        assert status.returncode == 0, status.stdout + status.stderr
    assert _rows(db, "SELECT count(*), max(version) FROM prompt_versions")[0] == (files, 1)
    assert _assert_gap_free(db) == files


@pytest.mark.slow
def test_mixed_load_from_several_processes(tmp_path: Path, sqlite_template: Path) -> None:
    server = _server(tmp_path, sqlite_template)
    db = tmp_path / "server.db"
    worker = Path(__file__).with_name("load_worker.py")
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
