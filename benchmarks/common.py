"""What every case needs: servers on loopback, throwaway databases, seeding, load, tables.

Everything here is bounded: servers have start and stop deadlines, load runs for a fixed time
and count, and every HTTP call has a timeout. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PG_ADMIN_URL = os.environ.get(
    "PROMPTSYNC_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgres")
PASSWORD = "correct horse battery staple"


@dataclass
class Options:
    """Command-line choices shared by every case."""

    quick: bool = False
    backends: Sequence[str] = BACKENDS
    rounds: int | None = None  # None: the case's default for quick / full
    duration: float | None = None  # seconds per load run; None: the case's default
    tool: str = "auto"  # wrk, python or auto (wrk when installed)
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    source: Path = REPO  # the checkout whose webapi is served (to measure before/after)


# ---------------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A result table, printed as Markdown so it can be pasted into docs/BENCHMARKS.md."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # bars missed or checks failed

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [f"### {self.title}", "", line(self.headers)]
        out.append("| " + " | ".join("-" * w for w in widths) + " |")
        out += [line(r) for r in self.rows]
        if self.notes or self.failures:
            out.append("")
        out += [f"- {n}" for n in self.notes]
        out += [f"- **FAIL**: {f}" for f in self.failures]
        return "\n".join(out) + "\n"


def fmt_range(values: Sequence[float], digits: int = 0, unit: str = "") -> str:
    """`median (min–max)` for a list of measurements."""
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}{unit}"
    return f"{med:,.{digits}f}{unit} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- machine


def _first_line(command: list[str], timeout: float = 10) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.strip().splitlines()
    return text[0] if done.returncode == 0 and text else None


def postgres_version() -> str | None:
    """The server version of the benchmark Postgres, or None when it is down."""
    try:
        import psycopg2

        conn = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except Exception:  # any failure means "not available"
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
            return str(row[0]) if row else None
    finally:
        conn.close()


def machine() -> dict[str, str]:
    """The facts a reader needs to compare figures: cores, CPU, versions."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for text_line in Path("/proc/cpuinfo").read_text().splitlines():
            if text_line.startswith("model name"):
                cpu = text_line.split(":", 1)[1].strip()
                break
    import flask
    import gunicorn
    import sqlalchemy

    return {
        "cores (nproc)": str(os.cpu_count()),
        "CPU": cpu,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "Postgres": postgres_version() or "not reachable",
        "Flask / SQLAlchemy / gunicorn": (
            f"{flask.__version__ if hasattr(flask, '__version__') else '?'} / "
            f"{sqlalchemy.__version__} / {gunicorn.__version__}"
        ),
        "load generator": load_tool_name("auto"),
    }


# ------------------------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str | None = None) -> dict[str, str]:
    """The environment of a benchmark server: production mode, fast bcrypt for seeding only."""
    env = dict(os.environ)
    env.update(
        PROMPTSYNC_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_SECURE="0",  # plain http on loopback
        BCRYPT_ROUNDS="4",  # only signup/login use bcrypt; fetches never do
        PYTHONUNBUFFERED="1",
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


class Server:
    """A gunicorn process group on a free loopback port, stopped for sure on exit."""

    def __init__(
        self,
        name: str,
        app: str,
        env: dict[str, str],
        workers: int = 2,
        threads: int = 1,
        workdir: Path | None = None,
        source: Path = REPO,
    ) -> None:
        self.name = name
        self.app = app
        self.env = env
        self.workers = workers
        self.threads = threads
        self.source = source  # gunicorn puts its working directory first on sys.path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        log_name = f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.log_path = Path(workdir or tempfile.gettempdir()) / log_name

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def settings(self) -> str:
        worker = f"gthread --threads {self.threads}" if self.threads > 1 else "sync"
        return f"gunicorn -w {self.workers} -k {worker}"

    def start(self, ready_path: str = "/healthz", deadline: float = 30.0) -> Server:
        self.port = free_port()
        command = [
            sys.executable, "-m", "gunicorn",
            "-w", str(self.workers),
            "-b", f"{HOST}:{self.port}",
            "--log-level", "warning",
            "--graceful-timeout", "5",
        ]
        if self.threads > 1:
            command += ["-k", "gthread", "--threads", str(self.threads)]
        command.append(self.app)
        log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command, cwd=self.source, env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", ready_path)
                status = conn.getresponse().status
                conn.close()
                if status == 200 and len(self.worker_pids()) >= self.workers:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {deadline:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children of the master), for profilers."""
        if self.proc is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
        return sorted(pids)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, deadline: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def product_server(database_url: str, opts: Options, threads: int = 1) -> Server:
    """The real app, `gunicorn "webapi:create_app()"`, as deployed."""
    return Server("promptsync", "webapi:create_app()", server_env(database_url),
                  threads=threads, workdir=opts.workdir, source=opts.source)


def bare_server(opts: Options) -> Server:
    """The reference: a bare Flask route with a constant JSON body, same gunicorn settings."""
    return Server("bare", "benchmarks.bare_app:app", server_env(), workdir=opts.workdir)


# ----------------------------------------------------------------------------- databases


def migrate(database_url: str, source: Path = REPO, timeout: float = 180) -> None:
    """Create the schema with the documented command, `flask --app webapi db upgrade`."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webapi", "db", "upgrade"],
        cwd=source, env=server_env(database_url), capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migration failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


@contextlib.contextmanager
def database(backend: str, opts: Options) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a Postgres database dropped afterwards."""
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="promptsync-bench-", dir=opts.workdir))
        try:
            url = f"sqlite:///{directory / 'bench.db'}"
            migrate(url, opts.source)
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    import psycopg2

    name = f"promptsync_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        try:
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
            migrate(url, opts.source)
            yield url
        finally:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def usable_backends(opts: Options) -> tuple[list[str], list[str]]:
    """The requested backends that can run here, and notes on those that cannot."""
    usable, notes = [], []
    for backend in opts.backends:
        if backend == "postgres" and postgres_version() is None:
            notes.append(f"Postgres skipped: {PG_ADMIN_URL} is not reachable")
            continue
        usable.append(backend)
    return usable, notes


# ------------------------------------------------------------------------------- seeding


GREETING = """\
description: Greets a customer by name and answers one question about their account
model: gpt-4o-mini
params: {temperature: 0.2, max_tokens: 300}
tags: [support, greeting]
variables:
  name: {description: customer first name, default: there}
  topic: {description: what the customer asked about, required: true}
template: |
  You are a friendly support agent for Acme. Greet {{ name }} and answer their question
  about {{ topic }} in at most three sentences. If you do not know, say so and offer to
  hand over to a human.
"""


@dataclass
class Account:
    """A user who owns a project, with a key of every role."""

    base: str
    email: str
    project: str
    keys: dict[str, str]

    def headers(self, role: str = "viewer") -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


def _check(response: httpx.Response, *expected: int) -> dict[str, Any]:
    if response.status_code not in expected:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else {}


def seed_account(base: str, project: str = "bench", email: str = "bench@example.com") -> Account:
    """Sign up, log in, create a project and viewer/editor/admin keys, all through the API."""
    with httpx.Client(base_url=base, timeout=30) as web:
        _check(web.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD}), 201)
        body = _check(web.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}),
                      200)
        csrf = {"X-CSRF-Token": body["csrf_token"]}
        _check(web.post("/api/v1/projects", json={"slug": project, "name": project.title()},
                        headers=csrf), 201)
        keys = {}
        for role in ("viewer", "editor", "admin"):
            created = _check(web.post(f"/api/v1/projects/{project}/keys",
                                      json={"name": f"bench {role}", "role": role},
                                      headers=csrf), 201)
            keys[role] = created["key"]
    return Account(base, email, project, keys)


def push(client: httpx.Client, account: Account, slug: str, source: str,
         message: str | None = None) -> dict[str, Any]:
    """Push one version with the editor key; the version JSON."""
    body: dict[str, Any] = {"source": source}
    if message:
        body["message"] = message
    return _check(client.post(f"/api/v1/projects/{account.project}/prompts/{slug}", json=body,
                              headers=account.headers("editor")), 200, 201)


def push_batch(client: httpx.Client, account: Account, items: list[dict[str, Any]]) -> None:
    """Push many prompts through the batch endpoint (at most 500 per call)."""
    for start in range(0, len(items), 500):
        body = _check(client.post(f"/api/v1/projects/{account.project}/prompts",
                                  json={"prompts": items[start:start + 500]},
                                  headers=account.headers("editor")), 200)
        bad = [r for r in body["results"] if r["status"] not in ("created", "unchanged")]
        if bad:
            raise RuntimeError(f"batch push failed: {bad[:3]}")


def set_label(client: httpx.Client, account: Account, slug: str, label: str, version: int) -> None:
    """Point a label at a version with the admin key (production is admin-only)."""
    _check(client.put(f"/api/v1/projects/{account.project}/prompts/{slug}/-/labels/{label}",
                      json={"version": version}, headers=account.headers("admin")), 200)


def version_numbers(client: httpx.Client, account: Account, slug: str) -> list[int]:
    """Every version number of a prompt, following the cursor (bounded to 100 pages)."""
    numbers: list[int] = []
    params: dict[str, str] = {"limit": "1000"}
    for _ in range(100):
        page = _check(client.get(f"/api/v1/projects/{account.project}/prompts/{slug}/-/versions",
                                 params=params, headers=account.headers("viewer")), 200)
        numbers += [v["version"] for v in page["versions"]]
        if not page.get("next"):
            break
        params["cursor"] = page["next"]
    return numbers


# ---------------------------------------------------------------------------------- load


@dataclass
class LoadResult:
    """One load run against one URL."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors
    tool: str
    cpu_ms: float = 0.0  # server worker CPU per request (set by measure()), robust to noise


def load_tool_name(choice: str) -> str:
    if choice == "python" or (choice == "auto" and shutil.which("wrk") is None):
        return "python (http.client threads; wrk not installed)" if choice == "auto" else "python"
    try:  # `wrk -v` prints its version and exits 1
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "wrk"
    words = (done.stdout + done.stderr).split()
    return " ".join(words[:2]) if words[:1] == ["wrk"] else "wrk"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not match:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(url: str, headers: dict[str, str], duration: float, connections: int) -> LoadResult:
    """wrk with one thread (the server needs the other core) and latency percentiles."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
               "--timeout", "5s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30,
                          check=False)
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {out[-1000:]} {done.stderr[-1000:]}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        errors += int(bad.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        # A read "error" is wrk seeing the sync worker close after each answer; not a failure.
        errors += int(sock.group(1)) + int(sock.group(3)) + int(sock.group(4))
    return LoadResult(rps, p50, p99, total, errors, "wrk")


def run_python_load(url: str, headers: dict[str, str], duration: float, connections: int,
                    max_requests: int = 2_000_000) -> LoadResult:
    """Fallback: keep-alive http.client connections in threads, bounded in time and count."""
    parsed = httpx.URL(url)
    target = parsed.raw_path.decode("ascii")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + duration
    budget = [max_requests]

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, parsed.port, timeout=5)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < stop:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            started = time.perf_counter()
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection(HOST, parsed.port, timeout=5)
                continue
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 30)
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]
    return LoadResult(
        rps=len(latencies) / elapsed,
        p50_ms=ordered[len(ordered) // 2],
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        requests=len(latencies),
        errors=errors[0],
        tool="python",
    )


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time used so far by these processes (from /proc)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def measure(server: Server, path: str, headers: dict[str, str], duration: float,
            connections: int, tool: str = "auto") -> LoadResult:
    """run_load against a server, with the CPU its workers spent per request."""
    pids = server.worker_pids()
    before = cpu_seconds(pids)
    result = run_load(server.base + path, headers, duration, connections, tool)
    if result.requests:
        result.cpu_ms = (cpu_seconds(pids) - before) / result.requests * 1000
    return result


def run_load(url: str, headers: dict[str, str], duration: float, connections: int,
             tool: str = "auto") -> LoadResult:
    """Load one URL for `duration` seconds with wrk, or the Python fallback."""
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return run_wrk(url, headers, duration, connections)
    return run_python_load(url, headers, duration, connections)
