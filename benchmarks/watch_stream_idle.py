"""watch-stream-idle: an idle `promptsync watch`, on the event stream vs polling: requests, CPU.

Two real servers (`gunicorn -w 1 -k gthread`) on one SQLite database, each with its own access
log: the product app, and the same app with the event stream answering 404
(benchmarks/nostream_app.py), on which the watch falls back to polling as against a server
without streams. One `promptsync watch` per server, each on its own project of 50 prompts
already on the server. After both settle they are left alone together for 60 s (10 s with
--quick); the requests each server logged in that window and each watch's CPU time (/proc) are
counted. The stream's own request is logged when it ends, so it is reported as open instead.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx

from .common import (
    GREETING,
    Account,
    Options,
    Server,
    Table,
    database,
    log,
    push_batch,
    seed_account,
    server_env,
)
from .watch_idle import _settled
from .watchproc import WatchProcess, make_repo

PROMPTS = 50
THREADS = 8  # gthread: a stream holds one thread of its worker


@contextlib.contextmanager
def _server(name: str, app: str, url: str, opts: Options) -> Iterator[tuple[Server, Path]]:
    """A gunicorn gthread server with an access log; (server, access log path)."""
    access = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=opts.workdir)) / "access.log"
    env = server_env(url)
    env["GUNICORN_CMD_ARGS"] = f"--access-logfile {access}"
    # The wrapper app lives in this checkout's benchmarks package: served from here always.
    with Server(name, app, env, workers=1, threads=THREADS, workdir=opts.workdir) as server:
        server.start()
        yield server, access


def _lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def _seed(server: Server, project: str) -> Account:
    account = seed_account(server.base, project=project, email=f"{project}@example.com")
    items = [{"slug": f"team/p{n:02d}", "source": GREETING + f"# prompt {n}\n"}
             for n in range(PROMPTS)]
    with httpx.Client(base_url=account.base, timeout=60) as client:
        push_batch(client, account, items)
    return account


def _repo(account: Account, opts: Options) -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"watch-{account.project}-", dir=opts.workdir))
    make_repo(root, account)
    return root


def run(opts: Options) -> list[Table]:
    duration = 10.0 if opts.quick else 60.0
    table = Table(f"watch-stream-idle: promptsync watch idle for {duration:.0f} s, "
                  f"{PROMPTS} prompts",
                  ["mode", "requests", "requests/min", "connections open", "CPU s", "CPU s/min",
                   "CPU %"])
    with (database("sqlite", opts) as url,
          _server("live", "webapi:create_app()", url, opts) as (live, live_log),
          _server("poll", "benchmarks.nostream_app:app", url, opts) as (poll, poll_log)):
        live_account = _seed(live, "live")
        poll_account = replace(_seed(live, "poll"), base=poll.base)
        with (WatchProcess(_repo(live_account, opts), live_account) as live_watch,
              WatchProcess(_repo(poll_account, opts), poll_account) as poll_watch):
            _settled(live_watch)
            _settled(poll_watch)
            log(f"watch-stream-idle: measuring {duration:.0f} s")
            before = {"stream": len(_lines(live_log)), "polling": len(_lines(poll_log))}
            cpu_before = {"stream": live_watch.cpu_seconds(),
                          "polling": poll_watch.cpu_seconds()}
            time.sleep(duration)
            cpu = {"stream": live_watch.cpu_seconds() - cpu_before["stream"],
                   "polling": poll_watch.cpu_seconds() - cpu_before["polling"]}
            logged = {"stream": _lines(live_log)[before["stream"]:],
                      "polling": _lines(poll_log)[before["polling"]:]}
            streams = {"stream": _open_streams(live), "polling": _open_streams(poll)}
            noise = [line for w in (live_watch, poll_watch) for line in w.lines[1:]
                     if "pushed" in line or "error" in line]
    for mode in ("stream", "polling"):
        count, seconds = len(logged[mode]), cpu[mode]
        table.rows.append([mode, str(count), f"{60 * count / duration:.1f}", str(streams[mode]),
                           f"{seconds:.2f}", f"{60 * seconds / duration:.2f}",
                           f"{100 * seconds / duration:.2f}"])
    if logged["stream"]:
        table.failures.append(f"the watch on the stream sent requests while idle: "
                              f"{logged['stream'][:3]}")
    if streams["stream"] != 1:
        table.failures.append(f"{streams['stream']} connections open to the live server "
                              "(expected 1: the stream)")
    if not logged["polling"]:
        table.failures.append("the polling watch sent no request: the fallback did not poll")
    if noise:
        table.failures.append(f"a watch pushed or failed while idle: {noise[:3]}")
    table.notes.append("servers: gunicorn -w 1 -k gthread --threads 8 each, one SQLite file; "
                       "requests = lines the server's access log gained during the window")
    asked = sorted({line.split('"')[1].split("?")[0] for line in logged["polling"]
                    if line.count('"') >= 2})
    table.notes.append(f"the polling watch asked for: {', '.join(asked) or 'nothing'}")
    table.notes.append("polling: the same app with /events/stream answering 404 "
                       "(benchmarks/nostream_app.py), as a server without streams")
    return [table]


def _open_streams(server: Server) -> int:
    """Established TCP connections to the server's port (the watch's open streams)."""
    port = f"{server.port:04X}"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        # local address ends in :PORT, state 01 = ESTABLISHED: the server's side of a connection
        if fields[1].endswith(":" + port) and fields[3] == "01":
            count += 1
    return count
