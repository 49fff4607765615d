"""Benchmarks for docs/BENCHMARKS.md: `python -m benchmarks [CASE ...] [--quick]`.

Every case is a module of this package with a `run(opts: Options) -> list[Table]` function,
registered in CASES below. A case that waits on a feature not built yet names it in `needs`
and a check in `available`; it is listed but skipped until the check passes, so the cases for
the CLI and `watch` can be written and enabled here without touching the runner.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field


def _has_command(*words: str) -> Callable[[], str | None]:
    """A check that `promptsync <words> --help` exists; returns why not, or None."""

    def check() -> str | None:
        import subprocess
        import sys
        from pathlib import Path

        exe = Path(sys.executable).with_name("promptsync")
        if not exe.exists() and shutil.which("promptsync") is None:
            return "the promptsync command is not installed"
        command = [str(exe) if exe.exists() else "promptsync", *words, "--help"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`promptsync {' '.join(words)}` cannot run: {exc}"
        if done.returncode != 0:
            return f"`promptsync {' '.join(words)}` does not exist yet"
        return None

    return check


@dataclass(frozen=True)
class Case:
    """One benchmark: its name on the command line, what it measures, and where it lives."""

    name: str
    summary: str
    module: str  # benchmarks.<module> with run(opts) -> list[Table]
    needs: str = ""  # what must exist before it can run (shown when skipped)
    available: Callable[[], str | None] = field(default=lambda: None)

    def why_not(self) -> str | None:
        """Why this case cannot run here yet, or None when it can."""
        import importlib.util

        if importlib.util.find_spec(f"{__name__}.{self.module}") is None:
            return f"benchmarks/{self.module}.py is not written yet"
        return self.available()


CASES: list[Case] = [
    Case("fetch", "fetch by slug with an API key vs a bare Flask route, gunicorn -w 2",
         "fetch"),
    Case("fetch-pool", "the key fetch's own Postgres connections vs SQLAlchemy's pool, CPU/fetch",
         "fetch_pool"),
    Case("pre-ping", "a dead-connection check before use: none, poll(2), SELECT 1; per request",
         "pre_ping"),
    Case("schema-libs", "pydantic v2 vs marshmallow for the declared request shapes: "
         "validation per push body and per 500-item batch, import time, installed size",
         "schema_libs"),
    Case("contention", "8 concurrent pushers on one prompt and on 8 prompts", "contention"),
    Case("webhook-delay", "a push answered -> its webhook delivery received, p50/p95",
         "webhook_delay"),
    Case("live-stream", "a label move -> 500 subscribers on two servers told (bar: p95 < 100 ms)",
         "live_stream"),
    # The CLI cases: each runs only when the installed command has the subcommand it times.
    Case("push5000", "push of 5,000 new files (bar: under 15 s)", "push5000",
         needs="promptsync push", available=_has_command("push")),
    Case("status5000", "status of 5,000 unchanged files (bar: under 2 s)", "status5000",
         needs="promptsync status", available=_has_command("status")),
    Case("pull5000", "pull of 5,000 prompts into an empty tree", "pull5000",
         needs="promptsync pull", available=_has_command("pull")),
    Case("save-visible", "editor save -> new version fetchable (bar: p50 < 50 ms, p95 < 100 ms)",
         "save_visible", needs="promptsync watch", available=_has_command("watch")),
    Case("watch-idle", "watch idle on 5,000 files: CPU and memory (bar: ~0 CPU, < 100 MB)",
         "watch_idle", needs="promptsync watch", available=_has_command("watch")),
    Case("watch-stream-idle", "watch idle on the event stream vs polling: requests/min, CPU",
         "watch_stream_idle", needs="promptsync watch", available=_has_command("watch")),
    Case("cli-startup", "CPU of `--help` and `status` against an http:// server, and of the "
         "start-up costs the CLI avoids (httpx's own command, the CA bundle)", "cli_startup",
         needs="promptsync status", available=_has_command("status")),
]


def case_named(name: str) -> Case | None:
    """The registered case with this name, or None."""
    return next((c for c in CASES if c.name == name), None)
