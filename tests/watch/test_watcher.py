"""Tests for promptsync.watch.watcher: editor event sequences fed by hand, and real observers on
real directories (in /tmp and outside it)."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
)

from promptsync.watch import events as events_mod
from promptsync.watch import watcher as watcher_mod
from promptsync.watch.events import EventFilter
from promptsync.watch.saves import Signal
from promptsync.watch.watcher import BATCH_WINDOW, PromptWatcher
from tests.support.held_clock import HeldClock, is_marker
from tests.support.waiting import no_thread_leaks, wait_until

REPO = Path(__file__).resolve().parents[2]
# The tests that count batches hold the debounce clock (held_clock.py): a loaded machine can
# pause a writer between two steps of one save for longer than any quiet period.
QUIET = 0.15


@pytest.fixture(autouse=True)
def _no_thread_leaks() -> Iterator[None]:
    with no_thread_leaks():
        yield


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldClock:
    """A held debounce clock for watchers made with ``clock=held.clock`` (request it before
    them: its ticks observe the watchers started after it)."""
    return HeldClock(monkeypatch)


# -- EventFilter fed by hand-built events, per editor (each sequence as observed) -------------

R = "/r/prompts"
a, a_ = f"{R}/a.yaml", f"{R}/a.yaml~"
swp, swx = f"{R}/.a.yaml.swp", f"{R}/.a.yaml.swx"

EDITOR_SEQUENCES: dict[str, list[FileSystemEvent]] = {
    "echo >> / VS Code (truncate, write)": [
        FileOpenedEvent(a),
        FileModifiedEvent(a),
        FileModifiedEvent(a),
        FileClosedEvent(a),
        DirModifiedEvent(R),
    ],
    "sed -i": [
        FileOpenedEvent(a),
        FileCreatedEvent(f"{R}/sedX1b2c3"),
        FileModifiedEvent(f"{R}/sedX1b2c3"),
        FileClosedNoWriteEvent(a),
        FileClosedEvent(f"{R}/sedX1b2c3"),
        FileAttribEvent(f"{R}/sedX1b2c3"),
        FileMovedEvent(f"{R}/sedX1b2c3", a),
        DirModifiedEvent(R),
    ],
    "tempfile + os.replace": [
        FileCreatedEvent(f"{R}/.a.yaml.k2j3.tmp"),
        FileModifiedEvent(f"{R}/.a.yaml.k2j3.tmp"),
        FileClosedEvent(f"{R}/.a.yaml.k2j3.tmp"),
        FileMovedEvent(f"{R}/.a.yaml.k2j3.tmp", a),
    ],
    "JetBrains safe write": [
        FileCreatedEvent(f"{a}___jb_tmp___"),
        FileModifiedEvent(f"{a}___jb_tmp___"),
        FileClosedEvent(f"{a}___jb_tmp___"),
        FileMovedEvent(a, f"{a}___jb_old___"),
        FileMovedEvent(f"{a}___jb_tmp___", a),
        FileDeletedEvent(f"{a}___jb_old___"),
    ],
    "gedit": [
        FileCreatedEvent(f"{R}/.goutputstream-Q1W2E3"),
        FileModifiedEvent(f"{R}/.goutputstream-Q1W2E3"),
        FileClosedEvent(f"{R}/.goutputstream-Q1W2E3"),
        FileMovedEvent(f"{R}/.goutputstream-Q1W2E3", a),
    ],
    "vim / neovim (rename backup)": [
        FileCreatedEvent(swp),
        FileCreatedEvent(swx),
        FileDeletedEvent(swx),
        FileModifiedEvent(swp),
        FileCreatedEvent(f"{R}/4913"),
        FileDeletedEvent(f"{R}/4913"),
        FileMovedEvent(a, a_),
        FileCreatedEvent(a),
        FileModifiedEvent(a),
        FileAttribEvent(a),
        FileClosedEvent(a),
        FileDeletedEvent(a_),
        FileDeletedEvent(swp),
    ],
    "vim -u NONE outside /tmp (copy backup, observed here)": [
        FileOpenedEvent(a),
        FileCreatedEvent(a_),
        FileModifiedEvent(a_),
        FileClosedEvent(a_),
        FileAttribEvent(a_),
        FileClosedNoWriteEvent(a),
        FileModifiedEvent(a),
        FileAttribEvent(a),
        FileClosedEvent(a),
        FileDeletedEvent(a_),
    ],
    "emacs first save": [
        FileCreatedEvent(f"{R}/.#a.yaml"),
        FileMovedEvent(a, a_),
        FileCreatedEvent(a),
        FileModifiedEvent(a),
        FileClosedEvent(a),
        FileClosedEvent(a),
        FileDeletedEvent(f"{R}/.#a.yaml"),
    ],
    "emacs auto-save file only": [
        FileCreatedEvent(f"{R}/#a.yaml#"),
        FileModifiedEvent(f"{R}/#a.yaml#"),
        FileDeletedEvent(f"{R}/#a.yaml#"),
    ],
    "a reader (our own read after a save)": [FileOpenedEvent(a), FileClosedNoWriteEvent(a)],
    "git inside the watched tree": [
        FileCreatedEvent(f"{R}/.git/index.lock"),
        FileModifiedEvent(f"{R}/.git/a.yaml"),
        FileMovedEvent(f"{R}/.git/index.lock", f"{R}/.git/index"),
        DirCreatedEvent(f"{R}/.git/objects/ab"),
        DirMovedEvent(f"{R}/.git/x", f"{R}/.git/y"),
        DirDeletedEvent(f"{R}/.idea/cache"),
    ],
}
EXPECTED: dict[str, set[str]] = {name: {a} for name in EDITOR_SEQUENCES}
EXPECTED["emacs auto-save file only"] = set()
EXPECTED["a reader (our own read after a save)"] = set()
EXPECTED["git inside the watched tree"] = set()


class Recorder:
    """The three EventFilter outputs, recorded."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.signals: list[tuple[Path, Signal]] = []
        self.subtrees: list[Path] = []
        self.rescans = 0

    def rescan(self) -> None:
        self.rescans += 1

    def path(self, path: Path, signal: Signal) -> None:
        self.paths.append(path)
        self.signals.append((path, signal))

    def feed(self, events: list[FileSystemEvent]) -> Recorder:
        handler = EventFilter(Path(R), self.path, self.subtrees.append, self.rescan)
        for event in events:
            handler.dispatch(event)
        return self


@pytest.mark.parametrize("editor", list(EDITOR_SEQUENCES))
def test_event_filter_enqueues_exactly_the_saved_file(editor: str) -> None:
    rec = Recorder().feed(EDITOR_SEQUENCES[editor])
    assert {str(p) for p in rec.paths} == EXPECTED[editor]
    assert rec.subtrees == [] and rec.rescans == 0


def test_event_filter_enqueues_both_ends_of_a_rename() -> None:
    rec = Recorder().feed([FileMovedEvent(a, f"{R}/sub/b.yml"), FileMovedEvent(f"{R}/c.yaml", a_)])
    assert rec.paths == [Path(a), Path(f"{R}/sub/b.yml"), Path(f"{R}/c.yaml")]


def test_event_filter_maps_directory_events_to_subtrees_and_rescans() -> None:
    rec = Recorder().feed([DirModifiedEvent(R), DirCreatedEvent(f"{R}/new")])
    assert rec.subtrees == [Path(f"{R}/new")] and rec.rescans == 0
    rec = Recorder().feed([DirMovedEvent(f"{R}/old", f"{R}/renamed")])
    assert rec.subtrees == [Path(f"{R}/renamed")] and rec.rescans == 1
    rec = Recorder().feed([DirDeletedEvent(f"{R}/gone")])
    assert rec.subtrees == [] and rec.rescans == 1
    rec = Recorder().feed([DirDeletedEvent(R)])  # the prompts directory itself went away
    assert rec.rescans == 1
    assert rec.paths == []


def test_event_filter_accepts_bytes_paths() -> None:
    rec = Recorder().feed([FileMovedEvent(os.fsencode(f"{R}/x.tmp"), os.fsencode(a))])
    assert rec.paths == [Path(a)]


# -- real observers on real directories -----------------------------------------------------


class Collector:
    """An on_change that records each batch with what the consumer would read at that moment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[dict[Path, bytes | None]] = []

    def __call__(self, paths: list[Path]) -> None:
        batch: dict[Path, bytes | None] = {}
        for path in paths:
            try:
                batch[path] = path.read_bytes()  # reading must not trigger another batch
            except FileNotFoundError:
                batch[path] = None
        with self.lock:
            self.batches.append(batch)

    def paths(self) -> set[Path]:
        with self.lock:
            return {p for b in self.batches for p in b}

    def deliveries(self, path: Path) -> list[bytes | None]:
        with self.lock:
            return [b[path] for b in self.batches if path in b]

    def wait_for(self, path: Path, timeout: float = 5.0) -> None:
        wait_until(lambda: path in self.paths(), timeout, lambda: f"{path} in {self.batches}")

    def count(self) -> int:
        with self.lock:
            assert not any(is_marker(p) for b in self.batches for p in b)
            return len(self.batches)


def one_batch_after(held: HeldClock, directory: Path, got: Collector) -> None:
    """Deliver everything the writes so far caused, then check one more tick brings nothing."""
    held.settle(directory)
    seen = got.count()
    held.settle(directory)  # any event after the first delivery is delivered by now
    assert got.count() == seen == 1, got.batches


@pytest.fixture(params=["tmp", "outside-tmp"])
def watch_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A prompts directory under /tmp, and one outside it (editors skip backups under /tmp)."""
    if request.param == "tmp":
        return tmp_path
    return Path(request.getfixturevalue("outside_tmp"))


@pytest.fixture
def make_watcher() -> Iterator[Callable[..., PromptWatcher]]:
    """Start PromptWatchers with test-friendly timings; every one is stopped at teardown."""
    started: list[PromptWatcher] = []

    def make(
        root: Path, on_change: Callable[[list[Path]], None], **kwargs: object
    ) -> PromptWatcher:
        kwargs.setdefault("quiet", QUIET)
        kwargs.setdefault("grace", 1.0)
        w = PromptWatcher(root, on_change, **kwargs)  # type: ignore[arg-type]
        started.append(w)
        w.start()
        return w

    yield make
    for w in started:
        w.stop()


def write_in_place(p: Path) -> None:
    with p.open("a") as f:
        f.write("# edited\n")


def truncate_then_write(p: Path) -> None:
    with p.open("w") as f:
        f.write("template: |\n")
        f.flush()
        f.write("  edited\n")


def tempfile_replace(p: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    with os.fdopen(fd, "w") as f:
        f.write("template: edited\n")
    os.replace(tmp, p)


def sed_in_place(p: Path) -> None:
    subprocess.run(["sed", "-i", "s/x/edited/", str(p)], check=True)


def jetbrains_safe_write(p: Path) -> None:
    tmp, old = p.with_name(p.name + "___jb_tmp___"), p.with_name(p.name + "___jb_old___")
    tmp.write_text("template: edited\n")
    os.rename(p, old)
    os.rename(tmp, p)
    old.unlink()


def gedit_save(p: Path) -> None:
    tmp = p.with_name(".goutputstream-Q1W2E3")
    tmp.write_text("template: edited\n")
    os.rename(tmp, p)


def vim_rename_backup(p: Path) -> None:
    swap, probe, backup = (
        p.with_name(f".{p.name}.swp"),
        p.with_name("4913"),
        p.with_name(p.name + "~"),
    )
    swap.write_bytes(b"b0VIM 9.0")
    probe.touch()
    probe.unlink()
    os.rename(p, backup)
    p.write_text("template: edited\n")
    backup.unlink()
    swap.unlink()


def emacs_first_save(p: Path) -> None:
    lock = p.with_name(f".#{p.name}")
    os.symlink("user@host.1234:1700000000", lock)  # dangling, like emacs' own lock
    os.rename(p, p.with_name(p.name + "~"))  # the backup stays on disk
    p.write_text("template: edited\n")
    lock.unlink()


WRITERS = [
    write_in_place,
    truncate_then_write,
    tempfile_replace,
    sed_in_place,
    jetbrains_safe_write,
    gedit_save,
    vim_rename_backup,
    emacs_first_save,
]


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_each_writer_yields_one_batch_with_the_final_content(
    writer: Callable[[Path], None], watch_dir: Path, held: HeldClock,
    make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = watch_dir / "a.yaml"
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(watch_dir, held.wrap(got), clock=held.clock)
    writer(target)
    one_batch_after(held, watch_dir, got)
    assert got.paths() == {target}  # never a temp, backup, lock or swap path
    assert got.deliveries(target) == [target.read_bytes()]  # never missing, never half-written
    assert b"edited" in target.read_bytes()


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_each_writer_is_delivered_within_the_batch_window_not_the_quiet_period(
    writer: Callable[[Path], None], watch_dir: Path, held: HeldClock,
    make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = watch_dir / "a.yaml"
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(watch_dir, held.wrap(got), clock=held.clock)
    writer(target)
    # Only the batch window passes (held), far less than `quiet`: the close or the rename that
    # ended the save is what delivers it.
    assert held.tick(watch_dir, BATCH_WINDOW) == []
    assert got.deliveries(target) == [target.read_bytes()]
    one_batch_after(held, watch_dir, got)


def test_a_file_truncated_and_closed_before_it_is_written_is_delivered_once_written(
    watch_dir: Path, held: HeldClock, make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = watch_dir / "a.yaml"
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(watch_dir, held.wrap(got), clock=held.clock)
    target.open("w").close()  # a close on an empty file: no finished save
    assert held.tick(watch_dir, BATCH_WINDOW) == [target]  # waiting for the quiet period
    assert got.batches == []
    with target.open("a") as f:
        f.write("template: edited\n")
    assert held.tick(watch_dir, BATCH_WINDOW) == []  # written and closed: delivered at once
    assert got.deliveries(target) == [b"template: edited\n"]
    one_batch_after(held, watch_dir, got)


def test_a_file_still_open_for_writing_waits_for_the_quiet_period(
    watch_dir: Path, held: HeldClock, make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = watch_dir / "a.yaml"
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(watch_dir, held.wrap(got), clock=held.clock)
    with target.open("w") as f:
        f.write("template: edited\n")  # already a valid prompt, but the writer goes on
        f.flush()
        for _ in range(3):  # three batch windows pass: never read while still open
            assert held.tick(watch_dir, BATCH_WINDOW) == [target]
        assert got.batches == []
        f.write("# and more\n")
    assert held.tick(watch_dir, BATCH_WINDOW) == []
    assert got.deliveries(target) == [b"template: edited\n# and more\n"]
    one_batch_after(held, watch_dir, got)


def test_a_burst_of_writes_to_several_files_yields_one_batch(
    tmp_path: Path, held: HeldClock, make_watcher: Callable[..., PromptWatcher]
) -> None:
    files = [tmp_path / f"p{i}.yaml" for i in range(3)]
    got = Collector()
    make_watcher(tmp_path, held.wrap(got), clock=held.clock)
    for n in range(20):
        for f in files:
            with f.open("a") as fh:
                fh.write(f"# {n}\n")
    one_batch_after(held, tmp_path, got)
    assert got.paths() == set(files)
    assert all(got.deliveries(f) == [f.read_bytes()] for f in files)


def test_a_slow_rename_save_is_held_by_grace_not_reported_as_deleted(
    tmp_path: Path, held: HeldClock, make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(tmp_path, held.wrap(got), grace=2.0, clock=held.clock)
    os.rename(target, tmp_path / "a.yaml~")
    # An editor that leaves the file absent for longer than `quiet` (the scenario under test):
    # the watcher looks while it is absent, and holds it.
    assert held.tick(tmp_path, 2 * QUIET) == [target]
    assert got.paths() == set()
    target.write_text("template: edited\n")
    one_batch_after(held, tmp_path, got)
    assert got.deliveries(target) == [b"template: edited\n"]


def test_a_deletion_is_delivered_after_the_grace_period(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = tmp_path / "sub" / "a.yml"
    target.parent.mkdir()
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(tmp_path, got, grace=0.5)
    removed_at = time.monotonic()
    target.unlink()
    got.wait_for(target)
    assert time.monotonic() - removed_at >= QUIET + 0.5
    assert got.deliveries(target) == [None]


def test_a_directory_moved_in_delivers_its_files_and_one_moved_out_asks_for_a_rescan(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher]
) -> None:
    root, outside = tmp_path / "prompts", tmp_path / "elsewhere"
    (outside / "team" / "deep").mkdir(parents=True)
    root.mkdir()
    files = [outside / "team" / "a.yaml", outside / "team" / "deep" / "b.yml"]
    for f in files:
        f.write_text("template: x\n")
    (outside / "team" / "notes.txt").write_text("not a prompt")
    (outside / "team" / ".git").mkdir()
    (outside / "team" / ".git" / "c.yaml").write_text("tool dir")
    got, rescans = Collector(), threading.Semaphore(0)
    make_watcher(root, got, on_rescan=rescans.release, rescan_on_start=False)
    os.rename(outside / "team", root / "team")
    expected = {root / "team" / "a.yaml", root / "team" / "deep" / "b.yml"}
    wait_until(lambda: got.paths() == expected, message=lambda: str(got.batches))
    os.rename(root / "team", outside / "team")
    assert rescans.acquire(timeout=5), "no rescan after a directory left the tree"
    assert got.paths() == expected


def test_tool_directories_inside_the_root_are_ignored(
    tmp_path: Path, held: HeldClock, make_watcher: Callable[..., PromptWatcher]
) -> None:
    got = Collector()
    make_watcher(tmp_path, held.wrap(got), clock=held.clock)
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / ".git" / "a.yaml").write_text("x")
    (tmp_path / ".promptsync").mkdir()
    (tmp_path / ".promptsync" / "state.yaml").write_text("x")
    (tmp_path / "real.yaml").write_text("x")  # what is not ignored, for contrast
    one_batch_after(held, tmp_path, got)
    assert got.paths() == {tmp_path / "real.yaml"}


def test_a_failing_on_change_is_reported_and_the_loop_goes_on(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher]
) -> None:
    errors: list[BaseException] = []
    seen: list[list[Path]] = []
    rescans = threading.Semaphore(0)

    def on_change(paths: list[Path]) -> None:
        seen.append(paths)
        if len(seen) == 1:
            raise RuntimeError("server exploded")

    w = PromptWatcher(
        tmp_path,
        on_change,
        quiet=QUIET,
        on_error=errors.append,
        on_rescan=rescans.release,
        rescan_on_start=False,
    )
    w.ERROR_RESCAN_DELAY = 0.0
    with w:
        # Renamed into place: one event each, so no save can straddle two batches.
        tempfile_replace(tmp_path / "a.yaml")
        wait_until(lambda: errors, message="on_error called")
        assert isinstance(errors[0], RuntimeError)
        assert rescans.acquire(timeout=5), "no rescan after a failed batch"
        tempfile_replace(tmp_path / "b.yaml")
        wait_until(lambda: len(seen) == 2, message=lambda: f"second batch in {seen}")
    assert seen == [[tmp_path / "a.yaml"], [tmp_path / "b.yaml"]]


def test_a_failing_on_error_is_logged_and_the_loop_goes_on(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher]
) -> None:
    logged: list[str] = []
    seen: list[list[Path]] = []

    def on_change(paths: list[Path]) -> None:
        seen.append(paths)
        raise ValueError("bad batch")

    def on_error(exc: BaseException) -> None:
        raise OSError("stderr closed")

    make_watcher(tmp_path, on_change, on_error=on_error, log=logged.append)
    (tmp_path / "a.yaml").write_text("x")
    wait_until(lambda: logged, message="a log line")
    assert "error handler failed" in logged[0] and "bad batch" in logged[0]
    (tmp_path / "b.yaml").write_text("x")
    wait_until(lambda: len(seen) == 2, message=lambda: f"second batch in {seen}")


def test_a_bug_in_the_event_filter_does_not_kill_the_observer(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[BaseException] = []
    got = Collector()
    make_watcher(tmp_path, got, on_error=errors.append)
    real = events_mod.is_ignored

    def broken(path: Path | str, root: Path | str) -> bool:
        if Path(path).name == "boom.yaml":
            raise RuntimeError("filter bug")
        return real(path, root)

    monkeypatch.setattr(events_mod, "is_ignored", broken)
    (tmp_path / "boom.yaml").write_text("x")
    wait_until(lambda: errors, message="the filter's exception reported")
    (tmp_path / "fine.yaml").write_text("x")
    got.wait_for(tmp_path / "fine.yaml")


def test_rescans_run_at_start_periodically_and_on_inotify_overflow(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher]
) -> None:
    calls: list[float] = []
    start = time.monotonic()
    make_watcher(tmp_path, Collector(), on_rescan=lambda: calls.append(time.monotonic()))
    wait_until(lambda: calls, message="the start-up rescan")
    assert calls[0] - start < 30  # at start, not after the first 60 s interval
    calls.clear()
    w = make_watcher(
        tmp_path, Collector(), on_rescan=lambda: calls.append(time.monotonic()), rescan_interval=0.1
    )
    wait_until(lambda: len(calls) >= 4, message="periodic rescans")
    w.stop()
    calls.clear()
    make_watcher(
        tmp_path,
        Collector(),
        on_rescan=lambda: calls.append(time.monotonic()),
        rescan_on_start=False,
    )
    # What watchdog logs when the kernel queue overflowed and events were lost.
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost"
    )
    wait_until(lambda: calls, message="a rescan after an overflow")


def test_falls_back_to_polling_when_the_inotify_watch_limit_is_hit(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchdog.observers.inotify import InotifyEmitter

    def no_watches_left(self: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(InotifyEmitter, "on_thread_start", no_watches_left)
    monkeypatch.setattr(watcher_mod, "POLL_INTERVAL", 0.1)
    logged: list[str] = []
    got = Collector()
    w = make_watcher(tmp_path, got, log=logged.append)
    assert w.observer_kind == "polling"
    assert len(logged) == 1 and "polling" in logged[0] and "max_user_watches" in logged[0]
    (tmp_path / "a.yaml").write_text("x")
    got.wait_for(tmp_path / "a.yaml")


def test_falls_back_to_polling_when_no_inotify_instance_is_left(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchdog.observers.inotify_c import InotifyFD

    def no_instances_left() -> int:
        raise OSError(errno.EMFILE, "inotify instance limit reached")

    monkeypatch.setattr(InotifyFD, "_create_inotify_fd", staticmethod(no_instances_left))
    logged: list[str] = []
    assert make_watcher(tmp_path, Collector(), log=logged.append).observer_kind == "polling"
    assert "inotify instance limit reached" in logged[0]


def test_other_start_errors_propagate_without_leaking_threads(tmp_path: Path) -> None:
    w = PromptWatcher(tmp_path / "missing", Collector())
    with pytest.raises(FileNotFoundError):
        w.start()
    w.stop()  # harmless after a failed start


def test_lifecycle(tmp_path: Path) -> None:
    w = PromptWatcher(tmp_path, Collector(), force_polling=True)
    w.stop()  # before start: a no-op
    with w:
        assert w.observer_kind == "polling"
        with pytest.raises(RuntimeError):
            w.start()
    w.stop()  # twice: a no-op
    with PromptWatcher(tmp_path, Collector()) as native:
        assert native.observer_kind == "inotify"
        assert native.root == tmp_path.absolute()


def test_idle_watch_over_many_files_uses_no_cpu(
    tmp_path: Path, make_watcher: Callable[..., PromptWatcher]
) -> None:
    for d in range(20):
        (tmp_path / f"d{d}").mkdir()
        for f in range(10):
            (tmp_path / f"d{d}" / f"p{f}.yaml").write_text("template: x\n")
    make_watcher(tmp_path, Collector(), on_rescan=lambda: None, rescan_on_start=False)
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(0.3)  # measuring idleness takes idle time
    used = time.process_time() - cpu
    assert used < 0.05 * (time.monotonic() - wall), f"{used:.3f} s of CPU while idle"


# -- real editors ---------------------------------------------------------------------------

VIM_MODES = {
    # rename-on-save, what `set backup` or neovim users get: a.yaml -> a.yaml~, new a.yaml
    "rename-backup": ["-c", "set backup writebackup backupskip= backupcopy=no"],
    # vim's defaults: a copied backup outside /tmp, none under /tmp
    "defaults": [],
}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
@pytest.mark.parametrize("mode", list(VIM_MODES))
def test_real_vim_save(
    mode: str, watch_dir: Path, held: HeldClock, make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = watch_dir / "a.yaml"
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(watch_dir, held.wrap(got), clock=held.clock)
    cmd = ["vim", "-es", "-u", "NONE", "-i", "NONE", *VIM_MODES[mode]]
    subprocess.run(
        [*cmd, "-c", "%s/x/edited/", "-c", "wq", str(target)],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=20,
    )
    one_batch_after(held, watch_dir, got)
    assert got.paths() == {target}
    assert got.deliveries(target) == [b"template: edited\n"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("emacs") is None, reason="emacs is not installed on this machine")
def test_real_emacs_save(
    watch_dir: Path, held: HeldClock, make_watcher: Callable[..., PromptWatcher]
) -> None:
    target = watch_dir / "a.yaml"
    target.write_text("template: x\n")
    got = Collector()
    make_watcher(watch_dir, held.wrap(got), clock=held.clock)
    subprocess.run(
        [
            "emacs",
            "--batch",
            "-Q",
            str(target),
            "--eval",
            '(progn (goto-char (point-min)) (replace-string "x" "edited") (save-buffer))',
        ],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,  # emacs chats on stderr ("Mark set")
        timeout=30,
    )
    one_batch_after(held, watch_dir, got)
    assert got.paths() == {target}
    assert got.deliveries(target) == [b"template: edited\n"]
