"""What the 5,000-file cases share (push5000, status5000, pull5000): a generated repository,
servers per backend, and the whole `promptsync` process timed as a user runs it.

Each run is a subprocess of the installed console script (cold interpreter start, imports,
config, scan, HTTP, state write), timed from spawn to exit. Beside the wall time the table
shows the CPU the CLI process used (user+system, from wait4) and the CPU the gunicorn workers
used during the run: both hold steady when other jobs on this shared machine steal cores.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .common import (
    Account,
    Options,
    Server,
    Table,
    cpu_seconds,
    database,
    fmt_range,
    log,
    product_server,
    push_batch,
    seed_account,
    usable_backends,
)

FILES = 5000
# A/B against other client code: unpack the old tree (`git archive REV promptsync | tar -x -C
# DIR`) and set PROMPTSYNC_BENCH_CLIENT=DIR. Every round then runs the CLI twice, importing
# promptsync from DIR ("old") and the installed one ("new"), in alternating order, and the
# table adds the new/old ratio of each adjacent pair: on a shared machine, read the ratio.
CLIENT_PATH = os.environ.get("PROMPTSYNC_BENCH_CLIENT", "")
OLD, NEW = "old", "new"


def variants(round_index: int) -> list[str]:
    """The client variants of one round: NEW alone, or OLD and NEW alternating first."""
    if not CLIENT_PATH:
        return [NEW]
    return [OLD, NEW] if round_index % 2 == 0 else [NEW, OLD]


def label(what: str, variant: str) -> str:
    return f"{what} ({variant})" if CLIENT_PATH else what


def client_notes() -> list[str]:
    """What "old" means, when PROMPTSYNC_BENCH_CLIENT is set."""
    if not CLIENT_PATH:
        return []
    return [f"A/B: ({OLD}) imports promptsync from {CLIENT_PATH} (PROMPTSYNC_BENCH_CLIENT), "
            f"({NEW}) the installed one; the two alternate within each round; bars apply to "
            f"({NEW}) only"]


CLI_DEADLINE = 300.0  # seconds for one promptsync run, far above any bar
SETUP_NOTE = (
    "server: gunicorn -w 2 -k sync (as deployed), a fresh database per backend; client: the "
    "installed `promptsync` console script as a subprocess, timed from spawn to exit "
    "(interpreter start and imports included); CPU = user+system seconds of the CLI process "
    "and of the gunicorn workers during the run"
)
TEAMS = ("support", "sales", "eng", "legal", "ops", "growth", "finance", "hr", "data", "product")
AREAS = ("onboarding", "billing", "search", "triage", "summaries", "outreach", "review",
         "extract", "classify", "translate")
WORDS = (
    "customer account order refund invoice ticket product team answer question policy "
    "summary detail context example format tone brief clear friendly formal careful step "
    "list table date amount status priority owner reason next action follow escalate"
).split()


# ------------------------------------------------------------------------------ the repo


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, size: int, indent: str) -> str:
    """Lines of prose of about ``size`` characters, each indented for a YAML block scalar."""
    lines, total = [], 0
    while total < size:
        line = _sentence(rng)
        lines.append(indent + line)
        total += len(line) + len(indent) + 1
    return "\n".join(lines) + "\n"


def prompt_source(rng: random.Random, index: int) -> str:
    """One valid prompt file of ~0.5–2 KiB: a text template or a chat prompt (1 in 3)."""
    body = rng.randint(300, 1600)
    variables = rng.sample(("name", "topic", "language", "account", "product", "tone"), 2)
    head = (
        f"description: Benchmark prompt {index} for {rng.choice(WORDS)} {rng.choice(WORDS)}\n"
        f"model: {rng.choice(('gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku'))}\n"
        f"params: {{temperature: {rng.randint(0, 10) / 10}, "
        f"max_tokens: {rng.randint(1, 8) * 100}}}\n"
        f"tags: [{rng.choice(TEAMS)}, {rng.choice(AREAS)}]\n"
        "variables:\n"
        f"  {variables[0]}: {{description: the {variables[0]}, default: there}}\n"
        f"  {variables[1]}: {{description: the {variables[1]}, required: true}}\n"
    )
    uses = f"Use {{{{ {variables[0]} }}}} and {{{{ {variables[1]} }}}}."
    if index % 3 == 2:
        return (
            head + "messages:\n"
            "  - role: system\n    content: |\n" + _paragraph(rng, body // 2, "      ")
            + "  - role: user\n    content: |\n      " + uses + "\n"
            + _paragraph(rng, body // 2, "      ")
        )
    return head + "template: |\n  " + uses + "\n" + _paragraph(rng, body, "  ")


def prompt_files(count: int = FILES, seed: int = 5000) -> dict[str, str]:
    """relpath -> source: ``count`` prompts in folders two and three levels deep."""
    rng = random.Random(seed)
    files = {}
    for index in range(count):
        team, area = TEAMS[index % len(TEAMS)], AREAS[(index // len(TEAMS)) % len(AREAS)]
        folder = f"{team}/{area}" if index % 4 else f"{team}/{area}/v{index % 3 + 1}"
        files[f"{folder}/prompt-{index:04d}.yaml"] = prompt_source(rng, index)
    return files


def write_files(directory: Path, files: dict[str, str]) -> None:
    """Write the prompt files (plain writes: the benchmark's own setup, not timed)."""
    for relpath, source in files.items():
        path = directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.encode("utf-8"))


def make_repo(root: Path, account: Account, project: str | None = None) -> Path:
    """A fresh checkout: promptsync.yaml for the project and an empty prompts dir; no state."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "promptsync.yaml").write_text(
        f"server: {account.base}\nproject: {project or account.project}\ndir: prompts\n",
        encoding="utf-8",
    )
    prompts = root / "prompts"
    prompts.mkdir()
    return prompts


def read_tree(directory: Path) -> dict[str, bytes]:
    """relpath -> bytes of every prompt file below ``directory``."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*.yaml")
    }


def describe_files(files: dict[str, str]) -> str:
    sizes = sorted(len(s.encode("utf-8")) for s in files.values())
    folders = {relpath.rsplit("/", 1)[0] for relpath in files}
    return (f"{len(files):,} prompt files in {len(folders)} folders (2–3 levels deep), "
            f"{sizes[0]:,}–{sizes[-1]:,} B each (median {sizes[len(sizes) // 2]:,} B), "
            f"{sum(sizes) / 1024 / 1024:.1f} MiB in all; 1 in 3 a chat prompt")


# ------------------------------------------------------------------------------- the CLI


def promptsync_exe() -> str:
    """The installed console script beside this Python, else the one on PATH."""
    exe = Path(sys.executable).with_name("promptsync")
    return str(exe) if exe.exists() else (shutil.which("promptsync") or "promptsync")


@dataclass
class CliRun:
    """One whole `promptsync` process: wall time, its own CPU, the server's CPU meanwhile."""

    seconds: float
    cli_cpu: float
    server_cpu: float
    returncode: int
    stdout: str
    stderr: str


def run_cli(root: Path, key: str, *args: str, server: Server | None = None,
            variant: str = NEW) -> CliRun:
    """Run ``promptsync ARGS`` in ``root`` with ``key``; no stored credentials are read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTSYNC_")}
    env.update(PROMPTSYNC_API_KEY=key, XDG_CONFIG_HOME=str(root / ".xdg"),
               HOME=str(root / ".home"))
    if variant == OLD:  # the other checkout's promptsync package, ahead of the installed one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [CLIENT_PATH, env.get("PYTHONPATH")]))
    pids = server.worker_pids() if server is not None else []
    server_before = cpu_seconds(pids)
    started = time.perf_counter()
    process = subprocess.Popen(
        [promptsync_exe(), *args], cwd=root, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = process.communicate(timeout=CLI_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise RuntimeError(f"promptsync {' '.join(args)} ran over {CLI_DEADLINE:.0f} s") from None
    seconds = time.perf_counter() - started
    return CliRun(seconds, 0.0, cpu_seconds(pids) - server_before, process.returncode, out, err)


def timed_cli(root: Path, key: str, *args: str, server: Server | None = None,
              variant: str = NEW) -> CliRun:
    """run_cli, with the child's own CPU time (user+system) from RUSAGE_CHILDREN deltas."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = run_cli(root, key, *args, server=server, variant=variant)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cli_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run


def check_run(run: CliRun, what: str) -> None:
    if run.returncode != 0:
        raise RuntimeError(f"{what} exited {run.returncode}:\n{run.stderr[-2000:]}")


# ------------------------------------------------------------------------------- servers


def backends(
    opts: Options, notes: list[str]
) -> Generator[tuple[str, Server, Account], None, None]:
    """For each usable backend: a migrated database, gunicorn on it, a seeded account.

    Use it as ``with contextlib.closing(backends(...)) as each: for ... in each`` so that an
    error in the loop body stops the server and drops the database at once.
    """
    usable, skipped = usable_backends(opts)
    notes += skipped
    for backend in usable:
        with database(backend, opts) as url, product_server(url, opts) as server:
            server.start()
            log(f"{backend}: gunicorn on {server.base} ({server.settings})")
            yield backend, server, seed_account(server.base)


def seed_prompts(account: Account, files: dict[str, str]) -> None:
    """Put every file on the server through the batch API (setup for status and pull)."""
    items = [{"slug": relpath.removesuffix(".yaml"), "source": source}
             for relpath, source in files.items()]
    with httpx.Client(base_url=account.base, timeout=120) as client:
        push_batch(client, account, items)


@dataclass
class Rows:
    """Collects timed runs per (backend, what) and renders them as table rows."""

    runs: dict[tuple[str, str], list[CliRun]] = field(default_factory=dict)

    def add(self, backend: str, what: str, run: CliRun) -> None:
        self.runs.setdefault((backend, what), []).append(run)

    def table(self, title: str, bars: dict[str, float]) -> Table:
        """One row per (backend, what); ``bars`` maps a ``what`` to its bar in seconds."""
        table = Table(title, ["backend", "run", "runs", "wall s median (min–max)",
                              "CLI CPU s", "server CPU s", "bar", "margin"])
        for (backend, what), runs in self.runs.items():
            walls = [r.seconds for r in runs]
            median = statistics.median(walls)
            bar = bars.get(what)
            margin = ""
            if bar is not None:
                margin = f"{bar / median:.1f}× under" if median < bar else "missed"
                if median >= bar:
                    table.failures.append(
                        f"{backend} {what}: median {median:.2f} s (bar < {bar:g} s)")
                elif max(walls) >= bar:
                    table.notes.append(f"{backend} {what}: the slowest run took "
                                       f"{max(walls):.2f} s, over the {bar:g} s bar")
            table.rows.append([
                backend, what, str(len(runs)), fmt_range(walls, 2),
                fmt_range([r.cli_cpu for r in runs], 2),
                fmt_range([r.server_cpu for r in runs], 2),
                f"< {bar:g} s" if bar is not None else "", margin,
            ])
            old = self.runs.get((backend, what.replace(f"({NEW})", f"({OLD})")))
            if CLIENT_PATH and what.endswith(f"({NEW})") and old:
                wall = [n.seconds / o.seconds for n, o in zip(runs, old, strict=False)]
                cpu = [n.cli_cpu / o.cli_cpu for n, o in zip(runs, old, strict=False)
                       if o.cli_cpu > 0]
                table.notes.append(
                    f"{backend} {what.removesuffix(f' ({NEW})')}: {NEW}/{OLD} per adjacent pair: "
                    f"wall {fmt_range(wall, 2, '×')}, CLI CPU {fmt_range(cpu, 2, '×')}")
        return table



def rounds(opts: Options, full: int, quick: int) -> int:
    return opts.rounds or (quick if opts.quick else full)


def git_commit(root: Path) -> None:
    """Make ``root`` a git repository with everything committed, as a user's checkout is."""
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com",
           "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "Prompts for the bench"]):
        subprocess.run([*git, *args], cwd=root, env=env, check=True, capture_output=True,
                       timeout=120)


def new_project(account: Account, project: str) -> str:
    """Create another project for the account and return an editor key for it."""
    from .common import PASSWORD, _check

    with httpx.Client(base_url=account.base, timeout=30) as web:
        body = _check(web.post("/api/v1/auth/login",
                               json={"email": account.email, "password": PASSWORD}), 200)
        csrf = {"X-CSRF-Token": body["csrf_token"]}
        _check(web.post("/api/v1/projects", json={"slug": project, "name": project.title()},
                        headers=csrf), 201)
        created = _check(web.post(f"/api/v1/projects/{project}/keys",
                                  json={"name": "bench editor", "role": "editor"},
                                  headers=csrf), 201)
        _check(web.post("/api/v1/auth/logout", headers=csrf), 200, 204)
    return str(created["key"])


def server_manifest(base: str, project: str, key: str) -> dict[str, str]:
    """slug -> sha256 of every prompt on the server (all pages, bounded)."""
    from .common import _check

    found: dict[str, str] = {}
    params: dict[str, str] = {"limit": "1000"}
    with httpx.Client(base_url=base, timeout=60, headers={"X-API-Key": key}) as client:
        for _ in range(1000):
            page = _check(client.get(f"/api/v1/projects/{project}/prompts", params=params), 200)
            found.update((p["slug"], p["sha256"]) for p in page["prompts"])
            if not page.get("next"):
                break
            params["cursor"] = page["next"]
    return found
