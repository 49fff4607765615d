"""`promptsync watch` for real: a real observer on a real directory, the real app served on a
loopback port (tests/support/watch_stack.py), real editors where installed, and the command as
a subprocess for SIGKILL, SIGINT and SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptsync.watch.saves import holds_prompt
from promptsync.watch.watcher import BATCH_WINDOW
from tests.support.editors import (
    in_place,
    jetbrains,
    os_replace,
    truncate_close_then_write,
    truncate_then_write,
)
from tests.support.held_clock import HeldClock
from tests.support.live import prompt_source
from tests.support.waiting import wait_until
from tests.support.watch_stack import SETTLE, Stack, Watch

# -- writers: each one saves `text` into the file the way an editor does ----------------------


def sed_i(path: Path, text: str) -> None:
    subprocess.run(["sed", "-i", "s/Hello/Hi/", str(path)], check=True, timeout=10)


def vim_backupcopy_no(path: Path, text: str) -> None:
    if shutil.which("vim") is None:
        pytest.skip("vim is not installed (apt-get install vim)")
    subprocess.run(
        ["vim", "-es", "-u", "NONE", "-i", "NONE",
         "-c", "set backup writebackup backupskip= backupcopy=no",
         "-c", "%s/Hello/Hi/", "-c", "wq", str(path)],
        check=True, stdin=subprocess.DEVNULL, timeout=20,
    )


def emacs_save(path: Path, text: str) -> None:
    if shutil.which("emacs") is None:
        pytest.skip("emacs is not installed (apt-get install emacs-nox)")
    subprocess.run(
        ["emacs", "--batch", "-Q", str(path), "--eval",
         '(progn (goto-char (point-min)) (replace-string "Hello" "Hi") (save-buffer))'],
        check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
    )


WRITERS = [in_place, truncate_then_write, truncate_close_then_write, os_replace, sed_i, jetbrains,
           vim_backupcopy_no, emacs_save]
EDITED = prompt_source("Hi {{ name }}.")


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_each_writer_makes_exactly_one_version_with_the_final_bytes(
    monkeypatch: pytest.MonkeyPatch, stack: Stack, writer: Callable[[Path, str], None]
) -> None:
    first = stack.path.read_text()
    # Debounce time passes only once the save is over: a loaded machine may pause a writer
    # between its steps for longer than `quiet`, and the half-written file is then rightly
    # read (and reported, or uploaded if it parses), which is not what this test is about.
    held = HeldClock(monkeypatch)
    stack.watch(watcher={"clock": held.clock})
    writer(stack.path, EDITED)
    assert stack.path.read_text() == EDITED

    def delivered() -> bool:
        held.advance()
        return stack.latest() == EDITED

    wait_until(delivered, 5, "the save as the latest version")
    held.advance()  # any event of the save the watcher took late: the same bytes, no version
    time.sleep(SETTLE)
    assert stack.sources() == [first, EDITED]
    # No deletion said, and no file problem (each named by its path, as lint names it).
    assert not [line for line in stack.lines if "deleted" in line or line.startswith("prompts/")]
    # Backups (vim's and emacs' a.yaml~) and temp files never reach the server.
    assert stack.slugs() == ["a"]


def test_a_file_truncated_and_closed_before_it_is_written_is_never_reported_nor_a_version(
    monkeypatch: pytest.MonkeyPatch, stack: Stack
) -> None:
    first = stack.path.read_text()
    held = HeldClock(monkeypatch)
    checked: list[tuple[Path, bool]] = []

    def settled(path: Path) -> bool:  # the watcher's own check, watched
        ok = holds_prompt(stack.prompts, path)
        checked.append((path, ok))
        return ok

    # Held time moves one batch window per look, never near the quiet period: whatever is
    # delivered is delivered by the close, not by waiting.
    quiet = 30.0
    stack.watch(watcher={"clock": held.clock, "settled": settled, "quiet": quiet})

    def after_a_window(condition: Callable[[], bool]) -> Callable[[], bool]:
        def step() -> bool:
            held.advance(BATCH_WINDOW)
            return condition()
        return step

    with stack.path.open("w"):
        pass  # truncated and closed: the kernel's close comes with an empty file
    wait_until(after_a_window(lambda: (stack.path, False) in checked), 5, "the empty file seen")
    with stack.path.open("a") as f:
        f.write(EDITED)
    wait_until(after_a_window(lambda: stack.latest() == EDITED), 5, "the save as the latest")
    assert held.now < quiet
    held.advance(2 * quiet)  # past every quiet period: nothing is left to deliver
    time.sleep(SETTLE)
    assert stack.sources() == [first, EDITED]
    assert not [line for line in stack.lines if line.startswith("prompts/") or "empty" in line]


def test_touch_and_a_save_without_change_make_no_version(stack: Stack) -> None:
    first = stack.path.read_text()
    stack.watch()
    pushed = len(stack.lines)
    stack.path.touch()
    os_replace(stack.path, first)
    in_place(stack.path, first)
    time.sleep(SETTLE)
    assert stack.sources() == [first]
    assert stack.lines[pushed:] == []


def test_pulled_versions_reach_the_file_and_are_not_uploaded_again(stack: Stack) -> None:
    first = stack.path.read_text()
    stack.watch()
    other = prompt_source("From the admin, {{ name }}.")
    assert stack.web.post("/a", json={"source": other, "parent_version": 1}).status_code == 201
    wait_until(lambda: stack.path.read_text() == other, 5, "the server's version in the file")
    time.sleep(SETTLE)
    assert stack.sources() == [first, other]
    assert "a: pulled v2" in stack.lines


def test_an_invalid_save_then_the_fix_make_exactly_one_version(stack: Stack) -> None:
    first = stack.path.read_text()
    stack.watch()
    os_replace(stack.path, "template: [unclosed\n")
    wait_until(lambda: any(line.startswith("prompts/a.yaml:2:") for line in stack.lines), 5,
               "the report")
    os_replace(stack.path, EDITED)
    wait_until(lambda: stack.latest() == EDITED, 5, "the fixed save")
    time.sleep(SETTLE)
    assert stack.sources() == [first, EDITED]


@pytest.mark.slow
def test_twenty_saves_while_the_server_is_down_all_arrive_in_order(stack: Stack) -> None:
    first = stack.path.read_text()
    daemon = stack.watch()
    stack.server.stop()
    wait_until(lambda: any("server unreachable" in line for line in stack.lines), 5,
               "the daemon to notice the outage")
    saves = [prompt_source(f"Hello {{{{ name }}}}, save {n}.") for n in range(20)]
    for n, text in enumerate(saves):
        os_replace(stack.path, text)
        wait_until(lambda n=n: daemon.outbox.count() == n + 1, 5, f"save {n} queued")
    stack.server.start()
    wait_until(lambda: len(stack.sources()) == 21, 15, lambda: f"21 versions; {stack.lines}")
    assert stack.sources() == [first, *saves]
    assert stack.latest() == stack.path.read_text()
    assert "server reachable again" in stack.lines


# -- the command as a process -----------------------------------------------------------------



def _journal(root: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((root / ".promptsync" / "state.json").read_text())["journal"])
    except (OSError, ValueError, KeyError):
        return []


@pytest.mark.slow
def test_sigkill_mid_upload_then_restart_loses_nothing_and_duplicates_nothing(
    stack: Stack,
) -> None:
    first = stack.path.read_text()
    watch = Watch(stack.root, stack.account.keys["editor"])
    try:
        wait_until(lambda: stack.sources() == [first], 10, "the start-up push")
        stack.wsgi.close()  # uploads now stay at the server until the gate opens
        saves = [prompt_source(f"Hello {{{{ name }}}}, save {n}.") for n in range(4)]
        os_replace(stack.path, saves[0])
        wait_until(lambda: stack.wsgi.held == 1, 10, "save 0's upload held by the server")
        os_replace(stack.path, saves[1])
        wait_until(lambda: len(_journal(stack.root)) == 2, 10, "save 1 queued behind it")
        watch.process.kill()  # SIGKILL while save 0 is being uploaded
        watch.kill()
        stack.wsgi.open()  # save 0 lands while the daemon is dead: it never hears of it
        wait_until(lambda: stack.sources() == [first, saves[0]], 10, "save 0 stored")
        os_replace(stack.path, saves[2])  # saved while nothing watches
        os_replace(stack.path, saves[3])
        watch = Watch(stack.root, stack.account.keys["editor"])
        wait_until(lambda: stack.latest() == saves[3], 10, lambda: f"the last save: {watch.lines}")
        time.sleep(SETTLE)
        # The restarted daemon recognises save 0 by its hash instead of sending it again, sends
        # save 1 from its journal, and the last offline save (the file) after it.
        assert stack.sources() == [first, saves[0], saves[1], saves[3]]
        assert _journal(stack.root) == []
        assert watch.end(signal.SIGTERM) == 0
        assert watch.lines[-1] == "stopped"
        watch = Watch(stack.root, stack.account.keys["editor"])
        assert watch.end(signal.SIGINT) == 130
        assert [line for line in watch.lines if line][-1] == "stopped"
    finally:
        watch.kill()
