"""status5000: `promptsync status` of 5,000 unchanged files, whole process (bar: under 2 s).

The 5,000 prompts are put on the server through the batch API, written into a git checkout,
and one `status` records them in the state (as a push would have). The timed runs are then
the everyday case: nothing changed anywhere. The first status of a fresh clone (no state yet:
every file is hashed, compared with the manifest and recorded) is shown on its own row.
"""

from __future__ import annotations

import contextlib
import shutil

from .common import Options, Table, log
from .scale import (
    FILES,
    NEW,
    SETUP_NOTE,
    Rows,
    backends,
    check_run,
    client_notes,
    describe_files,
    git_commit,
    label,
    make_repo,
    prompt_files,
    rounds,
    seed_prompts,
    timed_cli,
    variants,
    write_files,
)

BAR = 2.0
WHAT = "status, 5,000 unchanged"
FIRST = "status, first after clone"
VERSION = "promptsync --version"


def run(opts: Options) -> list[Table]:
    files = prompt_files()
    notes: list[str] = []
    rows = Rows()
    count = rounds(opts, full=7, quick=3)
    with contextlib.closing(backends(opts, notes)) as each:
        for backend, server, account in each:
            seed_prompts(account, files)
            key = account.keys["viewer"]
            for variant in variants(0):  # a fresh clone for each client variant
                root = opts.workdir / f"status5000-{backend}"
                write_files(make_repo(root, account), files)
                git_commit(root)
                first = timed_cli(root, key, "status", server=server, variant=variant)
                check_run(first, "promptsync status")
                rows.add(backend, label(FIRST, variant), first)
            for index in range(count):
                for variant in variants(index):
                    result = timed_cli(root, key, "status", server=server, variant=variant)
                    check_run(result, "promptsync status")
                    if result.stdout.strip() or f"{FILES} in sync" not in result.stderr:
                        raise RuntimeError(f"status is not all in sync:\n{result.stdout[-500:]}"
                                           f"\n{result.stderr[-500:]}")
                    log(f"{backend} status {index + 1}/{count} ({variant}): "
                        f"{result.seconds:.2f} s")
                    rows.add(backend, label(WHAT, variant), result)
            for index in range(count):
                for variant in variants(index):
                    rows.add(backend, label(VERSION, variant),
                             timed_cli(root, key, "--version", variant=variant))
            shutil.rmtree(root, ignore_errors=True)
    table = rows.table("status5000: `promptsync status` of 5,000 unchanged files (whole process)",
                       {label(WHAT, NEW): BAR})
    table.notes += [
        describe_files(files),
        "the prompts are on the server (batch API) and in a committed git checkout; the first "
        "status records all 5,000 in the state, the timed runs follow with nothing changed; "
        "each run must print nothing on stdout and `5000 in sync`",
        f"`{VERSION}`: the fixed cost of starting the command, for comparison",
        SETUP_NOTE,
        *client_notes(),
        *notes,
    ]
    return [table]
