"""pre-ping: what noticing a dead pooled Postgres connection before use costs a request.

Two paths, each in-process through the app's WSGI callable, with the check made three ways in
alternating chunks in one process, so the machine's noise hits all three alike:

- fast fetch (a key fetch answered in front of Flask, on its own connections): no check (as
  before), one poll(2) of the socket (webapi.database.hung_up, the product), or a SELECT 1
  round trip before the fetch statement (what SQLAlchemy's pool_pre_ping does);
- general path (GET /api/v1/me, among the cheapest Flask routes on the Session's pool): no
  checkout listener (as before), the poll(2) listener (the product), or SQLAlchemy's
  pool_pre_ping instead.

Reported per request: worker CPU (process time) and wall-clock time, which holds the round trip
a ping waits for; and each, per round, over the no-check chunk of the same round.

Instructions per fetch, which other jobs on the machine cannot blur, by callgrind (counting only
inside sys.call_tracing, i.e. the fetches): `valgrind --tool=callgrind --collect-atstart=no
--toggle-collect=sys_call_tracing python -m benchmarks.pre_ping CHECK [FETCHES]`, CHECK one of
none, poll, select1 (see CHECKS).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.test import EnvironBuilder

from webapi import database
from webapi.extensions import db
from webapi.fetch import connections

from .common import Options, Table, fmt_range, log, postgres_version
from .common import database as bench_database
from .fetch_pool import _seeded_app

CHUNK = 200  # requests per timed chunk
NO_CHECK, PRODUCT, PING = "no check (before)", "poll(2) of the socket (the product)", "SELECT 1"
CHECKS = {"none": NO_CHECK, "poll": PRODUCT, "select1": PING}  # for the callgrind run


def _select_one(driver: Any) -> bool:
    """pool_pre_ping's check on the fetch's connection: one SELECT 1 round trip."""
    cursor = driver.cursor()
    cursor.execute("SELECT 1")
    cursor.close()
    return False


@contextmanager
def _fetch_check(name: str) -> Iterator[None]:
    """The fast fetch checks its idle connections the way `name` says, meanwhile."""
    product = connections.hung_up
    chosen: dict[str, Any] = {NO_CHECK: lambda _driver: False, PRODUCT: product,
                              PING: _select_one}
    connections.hung_up = chosen[name]
    try:
        yield
    finally:
        connections.hung_up = product


@contextmanager
def _pool_check(engine: Engine, name: str) -> Iterator[None]:
    """The Session's pool checks its connections at checkout the way `name` says, meanwhile."""
    if name != PRODUCT:
        event.remove(engine, "checkout", database._check_idle)  # noqa: SLF001
    engine.pool._pre_ping = name == PING  # noqa: SLF001  (what create_engine(pool_pre_ping) sets)
    try:
        yield
    finally:
        engine.pool._pre_ping = False  # noqa: SLF001
        if name != PRODUCT:
            event.listen(engine, "checkout", database._check_idle)  # noqa: SLF001


def _per_request(app: Flask, environ: dict[str, Any], count: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per request over `count` requests through the app's WSGI callable."""
    wsgi = app.wsgi_app

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        assert status == "200 OK", status

    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        b"".join(wsgi(dict(environ), start_response))
    return ((time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6)


def _table(title: str, results: dict[str, list[tuple[float, float]]]) -> Table:
    table = Table(title, ["check", "CPU µs/request", "wall µs/request",
                          "CPU over no check, per round", "wall over no check, per round"])
    base = results[NO_CHECK]
    for name, values in results.items():
        cells = [name, fmt_range([v[0] for v in values], 1), fmt_range([v[1] for v in values], 1)]
        for i in (0, 1):
            if name == NO_CHECK:
                cells.append("-")
                continue
            more = [mine[i] - theirs[i] for mine, theirs in zip(values, base, strict=True)]
            share = statistics.median(more) / statistics.median([b[i] for b in base])
            cells.append(f"{fmt_range(more, 1, ' µs')}, {share:+.1%}")
        table.rows.append(cells)
    return table


def run(opts: Options) -> list[Table]:
    """The case: two tables, or none when Postgres is not reachable."""
    if postgres_version() is None:
        log("pre-ping: Postgres is not reachable; skipped")
        return []
    rounds = opts.rounds or (20 if opts.quick else 60)
    names = [NO_CHECK, PRODUCT, PING]
    with bench_database("postgres", opts) as url:
        app, fetch = _seeded_app(url)
        with app.app_context():
            engine = db.engine
        key = [("X-API-Key", str(fetch["HTTP_X_API_KEY"]))]
        listing = EnvironBuilder(path="/api/v1/me", headers=key).get_environ()
        paths: dict[str, tuple[dict[str, Any], Callable[[str], Any]]] = {
            "fast fetch": (fetch, _fetch_check),
            "general path": (listing, lambda name: _pool_check(engine, name)),
        }
        results: dict[str, dict[str, list[tuple[float, float]]]] = {
            path: {name: [] for name in names} for path in paths}
        try:
            for environ, check in paths.values():  # warm-up: connect, prepare, caches
                for name in names:
                    with check(name):
                        _per_request(app, environ, CHUNK)
            for round_no in range(rounds):
                order = names if round_no % 2 == 0 else names[::-1]
                for path, (environ, check) in paths.items():
                    for name in order:
                        with check(name):
                            results[path][name].append(_per_request(app, environ, CHUNK))
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    tables = [
        _table(f"pre-ping: key fetch on Postgres (fast path), in-process, {rounds} rounds × "
               f"{CHUNK}", results["fast fetch"]),
        _table(f"pre-ping: GET /api/v1/me on Postgres (Flask, Session pool), in-process, {rounds} "
               f"rounds × {CHUNK}", results["general path"]),
    ]
    tables[-1].notes.append("one process; the chunks of the three alternate (A B C, then C B A) "
                            "and each is compared with the no-check chunk of its round; CPU = "
                            "process time (the Postgres server's share is not in it), wall = "
                            "time per request, the ping's round trip included")
    return tables


def _instructions_run(check: str, fetches: int) -> None:
    """`fetches` fast fetches with `check`, inside sys.call_tracing (what callgrind counts)."""
    with bench_database("postgres", Options()) as url:
        app, environ = _seeded_app(url)
        try:
            with _fetch_check(CHECKS[check]):
                _per_request(app, environ, 50)  # warm-up: connect, prepare, caches
                sys.call_tracing(_per_request, (app, environ, fetches))
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


if __name__ == "__main__":
    _instructions_run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
