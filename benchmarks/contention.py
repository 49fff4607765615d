"""contention: 8 concurrent pushers on one prompt, then on 8 different prompts (a product bar).

The server runs `gunicorn -w 2 -k gthread --threads 4`, so all 8 pushes can be inside the
database at once (sync workers would queue all but two in the socket backlog and hide the
contention). Each pusher is a thread with its own httpx client. Every push must answer 201,
and each prompt must end with exactly the versions 1..N.
"""

from __future__ import annotations

import statistics
import threading
import time

import httpx

from .common import (
    GREETING,
    Account,
    Options,
    Table,
    database,
    log,
    product_server,
    seed_account,
    usable_backends,
    version_numbers,
)

PUSHERS = 8
DEADLINE = 300.0  # seconds for one scenario, whatever happens


Outcome = tuple[list[float], list[str], float, dict[str, int]]


def _scenario(account: Account, shared: bool, each: int) -> Outcome:
    """Run the pushers; (latencies ms of 201s, errors, elapsed s, {slug: expected count})."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(PUSHERS + 1)
    stop = time.monotonic() + DEADLINE
    slugs = ["hot/prompt" if shared else f"spread/p{i}" for i in range(PUSHERS)]

    def pusher(index: int) -> None:
        mine: list[float] = []
        bad: list[str] = []
        with httpx.Client(base_url=account.base, timeout=60,
                          headers=account.headers("editor")) as client:
            barrier.wait(timeout=30)
            for n in range(each):
                if time.monotonic() > stop:
                    bad.append("deadline reached")
                    break
                source = GREETING + f"# pusher {index} change {n}\n"
                started = time.perf_counter()
                try:
                    response = client.post(
                        f"/api/v1/projects/{account.project}/prompts/{slugs[index]}",
                        json={"source": source},
                    )
                except httpx.HTTPError as exc:
                    bad.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 201:
                    bad.append(f"{response.status_code} {response.text[:200]}")
                    continue
                mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=pusher, args=(i,), daemon=True) for i in range(PUSHERS)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=DEADLINE + 60)
    elapsed = time.perf_counter() - started
    if any(t.is_alive() for t in threads):
        errors.append("a pusher thread hung")
    expected: dict[str, int] = {}
    for slug in slugs:
        expected[slug] = expected.get(slug, 0) + each
    return latencies, errors, elapsed, expected


def _one_backend(backend: str, opts: Options, each: int, table: Table) -> None:
    with database(backend, opts) as url, product_server(url, opts, threads=4) as app:
        app.start()
        account = seed_account(app.base)
        log(f"contention/{backend}: server up ({app.settings})")
        for shared in (True, False):
            name = "1 prompt" if shared else f"{PUSHERS} prompts"
            latencies, errors, elapsed, expected = _scenario(account, shared, each)
            with httpx.Client(base_url=app.base, timeout=60) as client:
                wrong = []
                for slug, count in expected.items():
                    numbers = sorted(version_numbers(client, account, slug))
                    if numbers != list(range(1, count + 1)):
                        wrong.append(f"{slug}: {len(numbers)} versions, "
                                     f"{len(set(numbers))} distinct, max {max(numbers, default=0)}")
            created = len(latencies)
            ordered = sorted(latencies) or [0.0]
            table.rows.append([
                backend, name, f"{PUSHERS}×{each}", f"{created / elapsed:,.0f}",
                f"{statistics.median(ordered):.0f}",
                f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]:.0f}",
                str(len(errors)), "1..N exact" if not wrong else "WRONG",
            ])
            log(f"contention/{backend}/{name}: {created} versions in {elapsed:.1f} s, "
                f"{len(errors)} errors")
            if errors:
                table.failures.append(f"{backend} {name}: {len(errors)} errors, e.g. {errors[0]}")
            if wrong:
                table.failures.append(f"{backend} {name}: versions not 1..N: {'; '.join(wrong)}")


def run(opts: Options) -> list[Table]:
    each = 10 if opts.quick else 50
    table = Table(
        "contention: concurrent pushers",
        ["backend", "prompts", "pushes", "versions/s", "p50 ms", "p99 ms", "errors", "check"],
    )
    backends, notes = usable_backends(opts)
    for backend in backends:
        _one_backend(backend, opts, each, table)
    table.notes.append(f"server: gunicorn -w 2 -k gthread --threads 4; pushers: {PUSHERS} "
                       "threads, one httpx client each, released together by a barrier")
    table.notes += notes
    return [table]
