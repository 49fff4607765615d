"""push5000: `promptsync push` of 5,000 new files, the whole process timed (bar: under 15 s).

Each run pushes the same generated tree (a committed git checkout, so the push also reads its
git provenance) into a new, empty project on the same server, from a checkout with no state.
"""

from __future__ import annotations

import contextlib
import shutil

from promptsync.format.prompt import source_sha256

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
    new_project,
    prompt_files,
    rounds,
    server_manifest,
    timed_cli,
    variants,
    write_files,
)

BAR = 15.0
WHAT = "push 5,000 new files"


def run(opts: Options) -> list[Table]:
    files = prompt_files()
    expected = {relpath.removesuffix(".yaml"): source_sha256(source)
                for relpath, source in files.items()}
    notes: list[str] = []
    rows = Rows()
    count = rounds(opts, full=3, quick=1)
    with contextlib.closing(backends(opts, notes)) as each:
        for backend, server, account in each:
            for index in range(count):
                for variant in variants(index):
                    project = f"push{index + 1}{variant}"
                    key = new_project(account, project)
                    root = opts.workdir / f"push5000-{backend}-{index}"
                    write_files(make_repo(root, account, project), files)
                    git_commit(root)
                    result = timed_cli(root, key, "push", server=server, variant=variant)
                    check_run(result, "promptsync push")
                    got = server_manifest(account.base, project, key)
                    if got != expected:
                        missing = len(set(expected) - set(got))
                        raise RuntimeError(f"{backend}: after push the server has {len(got)} "
                                           f"prompts, {missing} missing or different")
                    if f"pushed {FILES} new versions" not in result.stderr:
                        raise RuntimeError(f"push said: {result.stderr[-500:]}")
                    log(f"{backend} push {index + 1}/{count} ({variant}): {result.seconds:.2f} s")
                    rows.add(backend, label(WHAT, variant), result)
                    shutil.rmtree(root, ignore_errors=True)
    table = rows.table("push5000: `promptsync push` of 5,000 new files (whole process)",
                       {label(WHAT, NEW): BAR})
    table.notes += [
        describe_files(files),
        "each run: a fresh git checkout (files committed, no .promptsync state) pushed into a "
        "new empty project; every slug and sha256 checked on the server afterwards",
        SETUP_NOTE,
        *client_notes(),
        *notes,
    ]
    return [table]

