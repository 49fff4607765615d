"""watch-idle: `promptsync watch` on 5,000 idle files: its CPU and memory (a product bar).

5,000 prompts in 50 folders, already on the server. After start-up (reconcile and the first
rescan) settles, the watch process is left alone for 60 s (10 s with --quick) while its CPU
time and RSS are read from /proc. Bars: under 1% of one core on average, peak RSS under 100 MB.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from .common import (
    GREETING,
    Options,
    Table,
    database,
    log,
    product_server,
    push_batch,
    seed_account,
)
from .watchproc import WatchProcess, make_repo

FILES = 5000
FOLDERS = 50
SETTLE_DEADLINE = 120.0


def _settled(watch: WatchProcess, window: float = 2.0) -> float:
    """Wait until the process used < 2% CPU over `window` s; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_DEADLINE:
        before = watch.cpu_seconds()
        time.sleep(window)
        if (watch.cpu_seconds() - before) / window < 0.02:
            break
    return time.monotonic() - started


def run(opts: Options) -> list[Table]:
    duration = 10.0 if opts.quick else 60.0
    table = Table("watch-idle: promptsync watch on 5,000 files, idle",
                  ["files", "idle s", "CPU s", "CPU %", "RSS MB", "peak RSS MB", "start-up s"])
    # gthread, as streams are served (README, Live): under sync workers the watch's event
    # stream would hold a whole worker until gunicorn's timeout killed it.
    with database("sqlite", opts) as url, product_server(url, opts, threads=8) as server:
        server.start()
        account = seed_account(server.base)
        root = Path(tempfile.mkdtemp(prefix="watch-idle-", dir=opts.workdir))
        prompts = make_repo(root, account)
        items = []
        for n in range(FILES):
            slug = f"f{n % FOLDERS:02d}/p{n:04d}"
            source = GREETING + f"# prompt {n}\n"
            path = prompts / f"{slug}.yaml"
            path.parent.mkdir(exist_ok=True)
            path.write_text(source)
            items.append({"slug": slug, "source": source})
        with httpx.Client(base_url=account.base, timeout=120) as client:
            push_batch(client, account, items)
        started = time.monotonic()
        with WatchProcess(root, account) as watch:
            startup = time.monotonic() - started + _settled(watch)
            log(f"watch-idle: measuring {duration:.0f} s")
            cpu_before = watch.cpu_seconds()
            time.sleep(duration)
            cpu = watch.cpu_seconds() - cpu_before
            rss, peak = watch.memory_mb()
            noise = [line for line in watch.lines[1:] if "pushed" in line or "error" in line]
    table.rows.append([f"{FILES:,}", f"{duration:.0f}", f"{cpu:.2f}",
                       f"{100 * cpu / duration:.2f}", f"{rss:.0f}", f"{peak:.0f}",
                       f"{startup:.1f}"])
    if cpu / duration >= 0.01:
        table.failures.append(f"{100 * cpu / duration:.2f}% of a core while idle (bar: 1%)")
    if peak >= 100:
        table.failures.append(f"peak RSS {peak:.0f} MB (bar: 100 MB)")
    if noise:
        table.failures.append(f"files already on the server were pushed again: {noise[:3]}")
    table.notes.append("server: gunicorn -w 2 -k gthread --threads 8; idle work: the event "
                       "stream's keep-alive comment every 15 s (no request) and a stat-only "
                       "rescan every 60 s; start-up s = until CPU < 2%")
    return [table]
