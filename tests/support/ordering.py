"""How an xdist run (`pytest -n auto`) hands tests out: a file at a time, costliest files first,
to one worker more than there are CPUs (auto_workers).

A file at a time, as xdist's loadfile does: the module-scoped fixtures of a file (a live server, a
browser, a seeded world) are set up on one worker, not on each. Costliest first: no long file
starts last and leaves one core idle while the other finishes it; the short files at the end
even the two out. When a run has too few files to keep the workers busy that way (a single test
file run with -n 2), the tests are handed out one by one instead.

A file's cost is what it took in the last run that ran it (the controlling process keeps the sums
of its tests' durations in pytest's cache), or, with no record (a fresh clone), an estimate from
what it is: 2 s a test marked slow or under tests/system/, 20 ms any other. Only the default
`--dist load` is replaced; an explicit other --dist is left to xdist.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import PurePosixPath
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

CACHE_KEY = "promptsync/file-seconds"
SLOW_SECONDS, OTHER_SECONDS = 2.0, 0.02
FILES_PER_WORKER = 4  # fewer files than this per worker: hand out single tests


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _estimate(item: pytest.Item) -> float:
    slow = item.get_closest_marker("slow") is not None
    system = PurePosixPath(_file(item.nodeid)).parts[:2] == ("tests", "system")
    return SLOW_SECONDS if slow or system else OTHER_SECONDS


class FileScheduling(LoadScopeScheduling):
    """xdist's scope scheduling, the scope being the file (or the test, with few files), the
    files in the order the workers collected them (see CostliestFilesFirst)."""

    by_file = True

    def schedule(self) -> None:
        if self.collection is None and self.registered_collections:
            collection = next(iter(self.registered_collections.values()))
            files = {_file(nodeid) for nodeid in collection}
            self.by_file = len(files) >= FILES_PER_WORKER * max(1, len(self.nodes))
        super().schedule()

    def _split_scope(self, nodeid: str) -> str:
        return _file(nodeid) if self.by_file else nodeid


class CostliestFilesFirst:
    """Orders the files by cost on the workers, and records their costs in the controller."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    @pytest.hookimpl(tryfirst=True)  # before xdist's own, which would answer first
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "load":
            return None
        config.option.loadscopereorder = False  # the order is the collection's, set below
        return FileScheduling(config, log)

    @pytest.hookimpl(trylast=True)  # after pytest orders the tests by their fixtures
    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if not hasattr(config, "workerinput"):  # not an xdist worker: the order is left alone
            return
        cache = getattr(config, "cache", None)  # None with -p no:cacheprovider
        recorded = cache.get(CACHE_KEY, {}) if cache is not None else {}
        estimated: defaultdict[str, float] = defaultdict(float)
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            estimated[_file(item.nodeid)] += _estimate(item)
            first.setdefault(_file(item.nodeid), index)
        cost = {name: float(recorded.get(name, seconds)) for name, seconds in estimated.items()}
        items.sort(key=lambda item: (-cost[_file(item.nodeid)], first[_file(item.nodeid)]))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[_file(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(session.config, "cache", None)
        if hasattr(session.config, "workerinput") or cache is None or not self.seconds:
            return
        recorded = cache.get(CACHE_KEY, {})
        recorded.update({name: round(seconds, 2) for name, seconds in self.seconds.items()})
        cache.set(CACHE_KEY, recorded)


def auto_workers() -> int | None:
    """`-n auto`: one worker more than the CPUs this process may use. A third of a run's time a
    worker waits (for a server to start, a debounce, a subprocess): one more keeps the cores
    busy (on 2 cores the end-to-end, watch and CLI tests took 80 s instead of 105, for no more
    CPU). PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return len(os.sched_getaffinity(0)) + 1


def register(config: pytest.Config) -> None:
    """Install it (from the root conftest's pytest_configure)."""
    config.pluginmanager.register(CostliestFilesFirst(), "promptsync-order")
