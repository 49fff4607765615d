"""fetch: GET a prompt by slug with an API key (the request apps make most), beside a bare
Flask route that does nothing but return a constant body.

Both servers run at once under the same `gunicorn -w 2` (sync workers); each fetch variant is
measured right next to a bare-route run, in alternating order (A B, then B A), for several
rounds, so that the machine's noise hits both sides of every ratio alike.

Bar: every fetch at least 50% of the bare route's req/s (within 2x); the 304 faster still.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import httpx

from .common import (
    GREETING,
    Account,
    LoadResult,
    Options,
    Table,
    bare_server,
    database,
    fmt_range,
    log,
    measure,
    product_server,
    push,
    push_batch,
    run_load,
    seed_account,
    set_label,
    usable_backends,
)

BAR = 0.5
CONNECTIONS = 4
SLUG = "support/greeting"
PARTIAL, INCLUDER = "shared/tone", "support/with-partial"
FILLER_PROMPTS = 300  # other prompts in the project, so indexes are exercised, not bypassed


@dataclass
class Variant:
    name: str
    path: str
    headers: dict[str, str]
    status: int
    version: int | None  # expected version in the body (None for 304)
    body_bytes: int = 0
    runs: list[LoadResult] = field(default_factory=list)
    bare_runs: list[LoadResult] = field(default_factory=list)  # each paired with runs[i]

    @property
    def ratios(self) -> list[float]:
        return [a.rps / b.rps for a, b in zip(self.runs, self.bare_runs, strict=True) if b.rps]

    @property
    def cpu_ratios(self) -> list[float]:
        """Bare CPU per request over ours: the req/s ratio a CPU-bound server would show."""
        return [b.cpu_ms / a.cpu_ms for a, b in zip(self.runs, self.bare_runs, strict=True)
                if a.cpu_ms]


def _seed(base: str) -> tuple[Account, str, bool]:
    account = seed_account(base)
    with httpx.Client(base_url=base, timeout=60) as client:
        push_batch(client, account, [
            {"slug": f"filler/{n // 50}/p{n}", "source": GREETING + f"# filler {n}\n"}
            for n in range(FILLER_PROMPTS)
        ])
        for n in (1, 2, 3):
            latest = push(client, account, SLUG, GREETING + f"# revision {n}\n", f"revision {n}")
        set_label(client, account, SLUG, "production", 2)
        set_label(client, account, SLUG, "staging", 3)
        # A prompt including a partial (SPEC §13); a server from before partials refuses it
        # (--source of an older checkout), and that run measures the others only.
        includes = False
        if client.post(f"/api/v1/projects/{account.project}/prompts/{PARTIAL}",
                       json={"source": "template: 'Be brief.'\n"},
                       headers=account.headers("editor")).status_code == 201:
            includes = client.post(
                f"/api/v1/projects/{account.project}/prompts/{INCLUDER}",
                json={"source": GREETING.replace("template: |\n", "template: |\n  {{> "
                                                 + PARTIAL + " }}\n")},
                headers=account.headers("editor")).status_code == 201
    return account, str(latest["sha256"]), includes


def _variants(account: Account, sha: str, includes: bool) -> list[Variant]:
    key = account.headers("viewer")
    path = f"/api/v1/projects/{account.project}/prompts/{SLUG}"
    with_partial = f"/api/v1/projects/{account.project}/prompts/{INCLUDER}"
    return [
        Variant("latest", path, key, 200, 3),
        Variant("?version=2", path + "?version=2", key, 200, 2),
        Variant("?label=production", path + "?label=production", key, 200, 2),
        *([Variant("latest, 1 partial", with_partial, key, 200, 1)] if includes else []),
        Variant("304 If-None-Match", path, {**key, "If-None-Match": f'"{sha}"'}, 304, None),
    ]


def _verify(base: str, variant: Variant) -> None:
    """One request first: the load must measure the right answer, not an error page."""
    response = httpx.get(base + variant.path, headers=variant.headers, timeout=10)
    if response.status_code != variant.status:
        raise RuntimeError(f"{variant.name}: {response.status_code} {response.text[:300]}")
    if variant.version is not None and response.json()["version"] != variant.version:
        raise RuntimeError(f"{variant.name}: got version {response.json()['version']}")
    variant.body_bytes = len(response.content)


def _one_backend(backend: str, opts: Options, rounds: int, duration: float) -> Table:
    table = Table(
        f"fetch on {backend}: {CONNECTIONS} connections, {rounds} rounds × {duration:g} s",
        ["route", "req/s median (min–max)", "p50 ms", "p99 ms", "vs bare (req/s)",
         "worker CPU ms/req", "vs bare (CPU)", "body B", "errors"],
    )
    with database(backend, opts) as url, product_server(url, opts) as app, \
            bare_server(opts) as bare:
        app.start()
        bare.start()
        log(f"fetch/{backend}: servers up ({app.settings}); seeding")
        account, sha, includes = _seed(app.base)
        variants = _variants(account, sha, includes)
        bare_url = bare.base + "/bare"
        for variant in variants:
            _verify(app.base, variant)
        bare_bytes = len(httpx.get(bare_url, timeout=10).content)
        log(f"fetch/{backend}: warm-up")
        for variant in variants:
            run_load(app.base + variant.path, variant.headers, 1, CONNECTIONS, opts.tool)
        run_load(bare_url, {}, 1, CONNECTIONS, opts.tool)
        tool = ""
        for round_no in range(rounds):
            for index, variant in enumerate(variants):
                order = ["app", "bare"] if (round_no + index) % 2 == 0 else ["bare", "app"]
                for side in order:
                    if side == "app":
                        result = measure(app, variant.path, variant.headers, duration,
                                         CONNECTIONS, opts.tool)
                        variant.runs.append(result)
                    else:
                        result = measure(bare, "/bare", {}, duration, CONNECTIONS, opts.tool)
                        variant.bare_runs.append(result)
                    tool = result.tool
            log(f"fetch/{backend}: round {round_no + 1}/{rounds}: " + ", ".join(
                f"{v.name} {v.runs[-1].rps:,.0f}/{v.bare_runs[-1].rps:,.0f}" for v in variants))
        table.notes.append(f"servers: {app.settings} for both; load: {tool}, one thread, "
                           f"{CONNECTIONS} connections; ratios are per adjacent A/B pair")
        table.notes.append("worker CPU = user+system time of the gunicorn workers during the "
                           "run / requests; its ratio holds steady when other jobs steal cores")
    every_bare = [r for v in variants for r in v.bare_runs]
    table.rows.append(_row("bare Flask route", every_bare, None, None, bare_bytes))
    for variant in variants:
        table.rows.append(_row(variant.name, variant.runs, variant.ratios, variant.cpu_ratios,
                               variant.body_bytes))
        ratio = statistics.median(variant.ratios)
        if variant.status == 200 and ratio < BAR:
            table.failures.append(f"{backend} {variant.name}: {ratio:.2f}× the bare route "
                                  f"(bar ≥ {BAR:.2f}×)")
        errors = sum(r.errors for r in variant.runs)
        if errors:
            table.failures.append(f"{backend} {variant.name}: {errors} failed requests")
    latest = statistics.median(r.rps for r in variants[0].runs)
    revalidate = statistics.median(r.rps for r in variants[-1].runs)
    if revalidate <= latest:
        table.failures.append(f"{backend}: the 304 ({revalidate:,.0f}/s) is not faster than "
                              f"a full fetch ({latest:,.0f}/s)")
    return table


def _row(name: str, runs: list[LoadResult], ratios: list[float] | None,
         cpu_ratios: list[float] | None, size: int) -> list[str]:
    return [
        name,
        fmt_range([r.rps for r in runs]),
        f"{statistics.median(r.p50_ms for r in runs):.2f}",
        f"{statistics.median(r.p99_ms for r in runs):.2f}",
        "1" if ratios is None else fmt_range(ratios, 2, "×"),
        fmt_range([r.cpu_ms for r in runs], 2),
        "1" if cpu_ratios is None else fmt_range(cpu_ratios, 2, "×"),
        str(size),
        str(sum(r.errors for r in runs)),
    ]


def run(opts: Options) -> list[Table]:
    rounds = opts.rounds or (2 if opts.quick else 5)
    duration = opts.duration or (2.0 if opts.quick else 4.0)
    backends, notes = usable_backends(opts)
    tables = [_one_backend(backend, opts, rounds, duration) for backend in backends]
    if tables:
        tables[-1].notes += notes
    return tables
