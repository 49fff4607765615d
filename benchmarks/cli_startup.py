"""cli-startup: the CPU a short command costs before and around its one request.

Whole processes, each a fresh interpreter, CPU (user + system) of the child: `promptsync --help`
(nothing networked is imported) and `promptsync status` of a 5-file repository against a local
http:// server (gunicorn, SQLite). Beside them, in fresh interpreters too, the two start-up costs
the CLI avoids, each as shipped and as before:

- `import httpx` with its own `httpx` command kept out (promptsync.cli does, for a process it
  runs), and as httpx loads it whenever rich and pygments are installed;
- the client for an http:// server: with promptsync.client.transport's plain_http_transport (no
  CA bundle loaded), and httpx's default (its TLS context, every CA certificate, at creation).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from .common import Options, Table, database, fmt_range, log, product_server, push, seed_account

PROMPTS = 5
IMPORT_PROBE = textwrap.dedent("""
    import sys, time
    if sys.argv[1] == "blocked":
        sys.modules["httpx._main"] = None
    start = time.process_time()
    import httpx
    print(time.process_time() - start)
""")
# `promptsync status` as it ran before: httpx imported whole first, its default TLS context.
STATUS_BEFORE = textwrap.dedent("""
    import promptsync.client.transport as transport
    transport.plain_http_transport = lambda server: None
    from promptsync.cli import main
    main(["status"])
""")
CLIENT_PROBE = textwrap.dedent("""
    import sys, time
    import httpx
    from promptsync.client.transport import plain_http_transport
    start = time.process_time()
    transport = plain_http_transport(sys.argv[2]) if sys.argv[1] == "plain" else None
    httpx.Client(base_url=sys.argv[2], transport=transport)
    print(time.process_time() - start)
""")


def _child_cpu(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """The CPU seconds of one child process run to its end, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # microseconds, where os.times ticks
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-1000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, done.stdout


def run(opts: Options) -> list[Table]:
    rounds = 5 if opts.quick else 15
    samples: dict[str, list[float]] = {}
    repo = opts.workdir / "cli-startup"
    (repo / "prompts").mkdir(parents=True, exist_ok=True)
    with database("sqlite", opts) as url, product_server(url, opts).start() as server:
        account = seed_account(server.base)
        with httpx.Client(base_url=server.base, timeout=30) as web:
            for n in range(PROMPTS):
                source = f"template: Hello {n} {{{{ name }}}}\n"
                (repo / "prompts" / f"p{n}.yaml").write_text(source)
                push(web, account, f"p{n}", source)
        (repo / "promptsync.yaml").write_text(
            f"server: {server.base}\nproject: {account.project}\ndir: prompts\n")
        env = {**os.environ, "PROMPTSYNC_API_KEY": account.keys["viewer"],
               "XDG_CONFIG_HOME": str(opts.workdir / "cli-startup-xdg")}
        python = sys.executable
        cases = {
            "`promptsync --help`": [python, "-m", "promptsync", "--help"],
            f"`promptsync status`, {PROMPTS} files, http:// server (shipped)": [
                python, "-m", "promptsync", "status"],
            f"`promptsync status`, {PROMPTS} files, http:// server (before)": [
                python, "-c", STATUS_BEFORE],
            "`import httpx`, its command kept out (shipped)": [
                python, "-c", IMPORT_PROBE, "blocked"],
            "`import httpx` as httpx does it (before)": [python, "-c", IMPORT_PROBE, "allowed"],
            "client for an http:// server, no CA bundle (shipped)": [
                python, "-c", CLIENT_PROBE, "plain", server.base],
            "client for an http:// server, httpx's TLS context (before)": [
                python, "-c", CLIENT_PROBE, "default", server.base],
        }
        for index in range(rounds):
            for name, command in cases.items():  # interleaved: the machine's noise hits all
                cpu, out = _child_cpu(command, repo, env)
                probe = command[1] == "-c" and command[2] != STATUS_BEFORE
                own = float(out) if probe else cpu  # a probe times its one step
                samples.setdefault(name, []).append(own * 1000)
            log(f"cli-startup round {index + 1}/{rounds}")
    table = Table("cli-startup: CPU of a short command and of the start-up costs it avoids",
                  ["what", "CPU, ms: median (min–max)"])
    for name, values in samples.items():
        table.rows.append([name, fmt_range(values, 1)])
    table.notes += [
        f"{rounds} rounds, interleaved; whole commands: the child's user + system CPU; the "
        "probes: process time around the one step, in a fresh interpreter",
        "httpx loads its own command line (httpx._main: rich, pygments) only where those are "
        "installed (this venv has them through test tools); a plain `pip install promptsync` "
        "pays neither the cost nor the saving",
        "`status` (before): the command with httpx imported whole and its default client, as "
        "the CLI ran it before the two changes",
        f"median saving per networked command: import "
        f"{_saving(samples, 'as httpx does it', 'kept out'):.0f} ms, client "
        f"{_saving(samples, 'TLS context', 'no CA bundle'):.0f} ms",
    ]
    return [table]


def _saving(samples: dict[str, list[float]], before: str, after: str) -> float:
    def median_of(part: str) -> float:
        return statistics.median(next(v for k, v in samples.items() if part in k))

    return median_of(before) - median_of(after)
