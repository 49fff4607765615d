"""pull5000: `promptsync pull` of 5,000 prompts into an empty prompts dir (bar: under 15 s).

The prompts are put on the server once through the batch API; each run is a fresh clone of
the repository config (promptsync.yaml, an empty prompts dir, no state) and a whole `pull`
process; afterwards every file must hold exactly the bytes on the server.
"""

from __future__ import annotations

import contextlib
import shutil

from .common import Options, Table, log
from .scale import (
    NEW,
    SETUP_NOTE,
    Rows,
    backends,
    check_run,
    client_notes,
    describe_files,
    label,
    make_repo,
    prompt_files,
    read_tree,
    rounds,
    seed_prompts,
    timed_cli,
    variants,
)

BAR = 15.0
WHAT = "pull 5,000 into an empty dir"


def run(opts: Options) -> list[Table]:
    files = prompt_files()
    expected = {relpath: source.encode("utf-8") for relpath, source in files.items()}
    notes: list[str] = []
    rows = Rows()
    count = rounds(opts, full=5, quick=2)
    with contextlib.closing(backends(opts, notes)) as each:
        for backend, server, account in each:
            seed_prompts(account, files)
            key = account.keys["viewer"]
            for index in range(count):
                for variant in variants(index):
                    root = opts.workdir / f"pull5000-{backend}-{index}"
                    prompts = make_repo(root, account)
                    result = timed_cli(root, key, "pull", server=server, variant=variant)
                    check_run(result, "promptsync pull")
                    got = read_tree(prompts)
                    if got != expected:
                        wrong = sum(got.get(k) != v for k, v in expected.items())
                        raise RuntimeError(f"{backend}: after pull {wrong} of {len(expected)} "
                                           f"files are missing or differ ({len(got)} written)")
                    log(f"{backend} pull {index + 1}/{count} ({variant}): {result.seconds:.2f} s")
                    rows.add(backend, label(WHAT, variant), result)
                    shutil.rmtree(root, ignore_errors=True)
    table = rows.table("pull5000: `promptsync pull` of 5,000 prompts into an empty dir "
                       "(whole process)", {label(WHAT, NEW): BAR})
    table.notes += [
        describe_files(files),
        "each run: a fresh clone (promptsync.yaml, empty prompts dir, no state); every file "
        "compared byte for byte with what was pushed afterwards",
        SETUP_NOTE,
        *client_notes(),
        *notes,
    ]
    return [table]
