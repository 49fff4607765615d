"""`python -m benchmarks [CASE ...] [--quick]`: run cases, print Markdown tables.

Exit status 1 when a bar is missed or a correctness check fails, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import tempfile
import time
from pathlib import Path

from . import CASES, case_named
from .common import BACKENDS, REPO, Options, Table, log, machine


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="promptsync benchmarks (loopback only). Cases: "
        + ", ".join(c.name for c in CASES),
    )
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help="cases to run (default: every case that can run here)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter runs")
    parser.add_argument("--backend", action="append", choices=BACKENDS,
                        help="database(s) to use (default: both; Postgres skipped if down)")
    parser.add_argument("--rounds", type=int, help="A/B rounds for fetch (default 5, quick 2)")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 4, quick 2)")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (auto: wrk when installed)")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="serve webapi from this checkout instead (e.g. an older commit "
                        "unpacked with git archive) to measure a change before/after")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        for case in CASES:
            why = case.why_not()
            state = "ready" if why is None else f"waits for {case.needs}: {why}"
            print(f"{case.name:14} {case.summary}  [{state}]")
        return 0
    unknown = [name for name in args.cases if case_named(name) is None]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    chosen = [c for c in map(case_named, args.cases) if c is not None] or list(CASES)
    with tempfile.TemporaryDirectory(prefix="promptsync-bench-") as workdir:
        opts = Options(quick=args.quick, backends=args.backend or BACKENDS, rounds=args.rounds,
                       duration=args.duration, tool=args.tool, workdir=Path(workdir),
                       source=args.source.resolve())
        report = [_header(argv)]
        failed = False
        for case in chosen:
            why = case.why_not()
            if why is not None:
                needs = f"needs `{case.needs}`; " if case.needs else ""
                note = f"### {case.name}: skipped\n\n- {needs}{why}\n"
                report.append(note)
                print(note, flush=True)
                continue
            log(f"{case.name}: {case.summary}")
            started = time.monotonic()
            module = importlib.import_module(f"{__package__}.{case.module}")
            tables: list[Table] = module.run(opts)
            for table in tables:
                table.notes.append(f"case `{case.name}` took {time.monotonic() - started:.0f} s")
                failed |= bool(table.failures)
                report.append(table.render())
                print(table.render(), flush=True)
    if args.markdown:
        args.markdown.write_text("\n".join(report))
    return 1 if failed else 0


def _header(argv: list[str] | None) -> str:
    command = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)
    facts = machine()
    lines = [f"Command: `{command.strip()}` at {time.strftime('%Y-%m-%d %H:%M')}", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    return text


if __name__ == "__main__":
    sys.exit(main())
