"""save-visible: an editor's save -> the new version returned by the API (a product bar).

`promptsync watch` runs as a child process against the real app under gunicorn (SQLite).
50 saves, one after the other, of one of five prompts, cycling through the ways editors write
(in place, truncate then write, temp file + os.replace, JetBrains' safe write, vim's rename
with a backup). The clock starts when the write returns and stops when a GET of the prompt's
latest version answers with the new hash (polled every 5 ms with If-None-Match).
Bars: p50 under 300 ms, p95 under 600 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from promptsync.format.prompt import source_sha256

from .common import GREETING, Account, Options, Table, database, log, product_server, seed_account
from .editors import in_place, jetbrains, os_replace, truncate_then_write, vim_rename
from .watchproc import WatchProcess, make_repo

SAVES = 50
PROMPTS = 5
DEADLINE = 10.0  # seconds for one save to show up before it counts as lost


WRITERS: list[Callable[[Path, str], None]] = [
    in_place, truncate_then_write, os_replace, jetbrains, vim_rename,
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measure(account: Account, prompts: Path, saves: int) -> tuple[list[float], dict[str, list]]:
    latencies: list[float] = []
    by_writer: dict[str, list[float]] = {w.__name__.strip("_"): [] for w in WRITERS}
    base = f"/api/v1/projects/{account.project}/prompts"
    with httpx.Client(base_url=account.base, headers=account.headers("viewer"),
                      timeout=10) as web:
        for n in range(saves):
            slug = f"bench/p{n % PROMPTS}"
            writer = WRITERS[n % len(WRITERS)]
            text = GREETING + f"# save {n}\n"
            sha = source_sha256(text.encode())
            writer(prompts / f"{slug}.yaml", text)
            started = time.perf_counter()
            end = started + DEADLINE
            etag = None
            while True:
                headers = {"If-None-Match": etag} if etag else {}
                response = web.get(f"{base}/{slug}", headers=headers)
                etag = response.headers.get("ETag", etag)
                if etag == f'"{sha}"':
                    break
                if time.perf_counter() > end:
                    raise RuntimeError(f"save {n} ({writer.__name__}) not visible in {DEADLINE} s")
                time.sleep(0.005)
            took = (time.perf_counter() - started) * 1000
            latencies.append(took)
            by_writer[writer.__name__.strip("_")].append(took)
            time.sleep(0.05)  # a person does not save twice within 50 ms
    return latencies, by_writer


def run(opts: Options) -> list[Table]:
    saves = 20 if opts.quick else SAVES
    table = Table("save-visible: save in an editor -> new version over HTTP",
                  ["writer", "saves", "p50 ms", "p95 ms", "max ms"])
    with database("sqlite", opts) as url, product_server(url, opts) as server:
        server.start()
        account = seed_account(server.base)
        root = Path(tempfile.mkdtemp(prefix="save-visible-", dir=opts.workdir))
        prompts = make_repo(root, account)
        (prompts / "bench").mkdir()
        for i in range(PROMPTS):
            (prompts / "bench" / f"p{i}.yaml").write_text(GREETING)
        with WatchProcess(root, account) as watch:
            log(f"save-visible: {saves} saves")
            latencies, by_writer = _measure(account, prompts, saves)
            invalid = [line for line in watch.lines if "invalid" in line or "deleted" in line]
    rows = [(name, values) for name, values in by_writer.items() if values]
    rows.append(("all", latencies))
    for name, values in rows:
        table.rows.append([name, str(len(values)), f"{statistics.median(values):.0f}",
                           f"{_percentile(values, 0.95):.0f}", f"{max(values):.0f}"])
    p50, p95 = statistics.median(latencies), _percentile(latencies, 0.95)
    if p50 >= 300:
        table.failures.append(f"p50 {p50:.0f} ms is not under 300 ms")
    if p95 >= 600:
        table.failures.append(f"p95 {p95:.0f} ms is not under 600 ms")
    if invalid:
        table.failures.append(f"watch reported {invalid[:3]}")
    table.notes.append("promptsync watch (debounce 150 ms) as a child process; server gunicorn "
                       "-w 2 on SQLite; latency from the write returning to a GET of the latest "
                       "version answering the new ETag (polled every 5 ms)")
    return [table]
