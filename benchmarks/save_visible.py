"""save-visible: an editor's save -> the new version returned by the API (a product bar).

`promptsync watch` runs as a child process against the real app under gunicorn (SQLite).
Saves one after the other, each of one of five prompts, cycling through the ways editors write
(tests/support/editors.py: in place, truncate then write, truncate-close-then-write, temp file +
os.replace, JetBrains' safe write, vim's rename with a backup; and sed -i, vim and emacs
themselves when installed). The clock starts when the write returns (the editor's process has
exited) and stops when a GET of the prompt's latest version answers with the new hash (polled
every 5 ms with If-None-Match). At the end every prompt must hold exactly one version per save.
Bars: p50 under 50 ms, p95 under 100 ms.

A/B: with PROMPTSYNC_BENCH_CLIENT=DIR (another checkout's promptsync, e.g. before a change), a
second watch imports promptsync from DIR and watches a second project on the same server; the
saves alternate between the two, so both see the same machine at the same moment.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from promptsync.format.prompt import source_sha256
from tests.support.editors import (
    in_place,
    jetbrains,
    os_replace,
    truncate_close_then_write,
    truncate_then_write,
    vim_rename,
)

from .common import GREETING, Account, Options, Table, database, log, product_server, seed_account
from .scale import CLIENT_PATH, NEW, OLD
from .watchproc import WatchProcess, make_repo

SAVES_PER_WRITER = 10
PROMPTS = 5
DEADLINE = 10.0  # seconds for one save to show up before it counts as lost
MARK = "# save "  # the last line of every saved text: what the real editors rewrite


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)


def sed_i(path: Path, text: str) -> None:
    """sed -i: a temp file renamed over the prompt."""
    _run(["sed", "-i", f"s/^{MARK}.*/{text.splitlines()[-1]}/", str(path)])


def vim(path: Path, text: str) -> None:
    """vim with a backup renamed aside (what `set backup` users get outside /tmp)."""
    _run(["vim", "-es", "-u", "NONE", "-i", "NONE", "-c",
          "set backup writebackup backupskip= backupcopy=no",
          "-c", f"%s/^{MARK}.*/{text.splitlines()[-1]}/", "-c", "wq", str(path)])


def emacs(path: Path, text: str) -> None:
    """emacs: lock, backup by rename, write, a second close."""
    line = text.splitlines()[-1]
    _run(["emacs", "--batch", "-Q", str(path), "--eval",
          f'(progn (goto-char (point-min)) (re-search-forward "^{MARK}.*") '
          f'(replace-match "{line}") (save-buffer))'])


def writers() -> list[Callable[[Path, str], None]]:
    """The Python replays, then the real programs installed here."""
    found: list[Callable[[Path, str], None]] = [
        in_place, truncate_then_write, truncate_close_then_write, os_replace, jetbrains,
        vim_rename,
    ]
    found += [w for w in (sed_i, vim, emacs) if shutil.which(w.__name__.split("_")[0])]
    return found


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Side:
    """One watch process (old or new client) over its own project and repository."""

    def __init__(self, variant: str, account: Account, prompts: Path, watch: WatchProcess):
        self.variant = variant
        self.account = account
        self.prompts = prompts
        self.watch = watch
        self.web = httpx.Client(base_url=f"{account.base}/api/v1/projects/{account.project}",
                                headers=account.headers("viewer"), timeout=10)
        self.saves: dict[str, int] = {}

    def save(self, n: int, writer: Callable[[Path, str], None]) -> float:
        """Save once with ``writer``; ms until the API serves it."""
        slug = f"bench/p{n % PROMPTS}"
        text = GREETING + f"{MARK}{n}\n"
        sha = source_sha256(text.encode())
        path = self.prompts / f"{slug}.yaml"
        writer(path, text)
        started = time.perf_counter()
        if path.read_text() != text:
            raise RuntimeError(f"{writer.__name__} wrote {path.read_text()!r}")
        etag = None
        while True:
            headers: dict[str, str] = {"If-None-Match": etag} if etag else {}
            response = self.web.get(f"/prompts/{slug}", headers=headers)
            etag = response.headers.get("ETag", etag)
            if etag == f'"{sha}"':
                break
            if time.perf_counter() - started > DEADLINE:
                raise RuntimeError(f"save {n} ({writer.__name__}) not visible in {DEADLINE} s")
            time.sleep(0.005)
        self.saves[slug] = self.saves.get(slug, 0) + 1
        return (time.perf_counter() - started) * 1000

    def extra_versions(self) -> list[str]:
        """Prompts whose version count is not 1 + their saves (each save exactly one)."""
        wrong = []
        for slug, saves in sorted(self.saves.items()):
            listed = self.web.get(f"/prompts/{slug}/-/versions", params={"limit": 1000}).json()
            if len(listed["versions"]) != 1 + saves:
                wrong.append(f"{slug}: {len(listed['versions'])} versions for {saves} saves")
        return wrong


def _start(variant: str, base: str, workdir: Path) -> Side:
    account = seed_account(base, project=f"bench-{variant}", email=f"{variant}@example.com")
    root = Path(tempfile.mkdtemp(prefix=f"save-visible-{variant}-", dir=workdir))
    prompts = make_repo(root, account)
    (prompts / "bench").mkdir()
    for i in range(PROMPTS):
        (prompts / "bench" / f"p{i}.yaml").write_text(GREETING + f"{MARK}start\n")
    watch = WatchProcess(root, account, pythonpath=CLIENT_PATH if variant == OLD else "")
    return Side(variant, account, prompts, watch)


def run(opts: Options) -> list[Table]:
    found = writers()
    per_writer = 4 if opts.quick else SAVES_PER_WRITER
    variants = [OLD, NEW] if CLIENT_PATH else [NEW]
    table = Table("save-visible: save in an editor -> new version over HTTP",
                  ["writer", "saves", *[f"{h} ({v})" if CLIENT_PATH else h for v in variants
                                        for h in ("p50 ms", "p95 ms", "max ms")]]
                  + (["p50 new/old"] if CLIENT_PATH else []))
    times: dict[tuple[str, str], list[float]] = {}
    with database("sqlite", opts) as url, product_server(url, opts) as server:
        server.start()
        # The workdir is under /tmp, where vim and emacs skip their backups: save where users do.
        workdir = Path(tempfile.mkdtemp(prefix="promptsync-bench-", dir=Path.home()))
        sides: list[Side] = []
        try:
            sides = [_start(v, server.base, workdir) for v in variants]
            log(f"save-visible: {per_writer * len(found)} saves per client, {len(found)} writers")
            n = 0
            for _ in range(per_writer):
                for writer in found:
                    order = sides if n % 2 == 0 else sides[::-1]  # who goes first alternates
                    for side in order:
                        took = side.save(n, writer)
                        times.setdefault((writer.__name__, side.variant), []).append(took)
                        time.sleep(0.05)  # a person does not save twice within 50 ms
                    n += 1
            for side in sides:
                table.failures += [f"({side.variant}) {w}" for w in side.extra_versions()]
                said = [line for line in side.watch.lines
                        if "invalid" in line or "deleted" in line or "empty" in line]
                if said:
                    table.failures.append(f"({side.variant}) watch reported {said[:3]}")
        finally:
            for side in sides:
                side.watch.stop()
                side.web.close()
            shutil.rmtree(workdir, ignore_errors=True)
    names = [w.__name__ for w in found]
    for name in [*names, "all"]:
        row = [name, ""]
        p50s = {}
        for variant in variants:
            values = ([t for (w, v), ts in times.items() if v == variant for t in ts]
                      if name == "all" else times[(name, variant)])
            row[1] = str(len(values))
            p50s[variant] = statistics.median(values)
            row += [f"{p50s[variant]:.0f}", f"{_percentile(values, 0.95):.0f}",
                    f"{max(values):.0f}"]
        if CLIENT_PATH:
            row.append(f"{p50s[NEW] / p50s[OLD]:.2f}×")
        table.rows.append(row)
    new = [t for (_, v), ts in times.items() if v == NEW for t in ts]
    p50, p95 = statistics.median(new), _percentile(new, 0.95)
    if p50 >= 50:
        table.failures.append(f"p50 {p50:.0f} ms is not under 50 ms")
    if p95 >= 100:
        table.failures.append(f"p95 {p95:.0f} ms is not under 100 ms")
    table.notes.append("promptsync watch as a child process per client; server gunicorn -w 2 on "
                       "SQLite; latency from the write returning to a GET of the latest version "
                       "answering the new ETag (polled every 5 ms); every prompt checked for "
                       "exactly one version per save")
    if CLIENT_PATH:
        table.notes.append(f"A/B: ({OLD}) imports promptsync from {CLIENT_PATH} "
                           f"(PROMPTSYNC_BENCH_CLIENT), ({NEW}) the installed one, each watching "
                           "its own project; the saves alternate between them, who goes first "
                           f"alternates; bars apply to ({NEW}) only")
    return [table]
