"""Record what a real watchdog observer reports while each writer saves ``a.yaml``: the corpus
the finished-save decision is tested on (tests/data/editor_saves.json).

Run on the machine whose editors you want to capture, then review the diff:
    .venv/bin/python -m tests.support.record_saves tests/data/editor_saves.json

Each writer saves in one or more steps; between two steps the recorder waits until the observer
has reported everything so far (a marker file renamed into the folder, then its event), so the
corpus says what the watcher knows at each pause. Recorded outside /tmp (test-artifacts/), where
vim and emacs make their backups as users see them. Several runs per writer; identical runs once.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from tests.support import editors

REPO = Path(__file__).resolve().parents[2]
BEFORE = "template: x\n"
AFTER = "variables:\n  name: {required: true}\ntemplate: |\n  Hi {{ name }}.\n"
RUNS = 5
MARK = "zz-cut-"
Step = Callable[[Path], None]


def _run(*argv: str) -> Step:
    def step(path: Path) -> None:
        subprocess.run([*argv, str(path)], check=True, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    return step


def _shell(script: str) -> Step:
    def step(path: Path) -> None:
        subprocess.run(["sh", "-c", script, "sh", str(path)], check=True, timeout=10)
    return step


def _python(writer: Callable[[Path, str], None]) -> Step:
    return lambda path: writer(path, AFTER)


def _partial_write() -> list[Step]:
    """Half the bytes written and flushed, the file still open (a slow or large write)."""
    handle: list[object] = []

    def first(path: Path) -> None:
        f = path.open("w")
        f.write(AFTER[:12])
        f.flush()
        handle.append(f)

    def rest(path: Path) -> None:
        f = handle.pop()
        f.write(AFTER[12:])  # type: ignore[attr-defined]
        f.close()  # type: ignore[attr-defined]

    return [first, rest]


def _truncate_close_then_write() -> list[Step]:
    """The truncation closed on its own, then the bytes: a close on an empty file first."""
    def truncate(path: Path) -> None:
        path.open("w").close()

    def write(path: Path) -> None:
        with path.open("a") as f:
            f.write(AFTER)

    return [truncate, write]


VIM = ["vim", "-es", "-u", "NONE", "-i", "NONE"]
EMACS_EVAL = '(progn (goto-char (point-min)) (replace-string "x" "edited") (save-buffer))'
WRITERS: dict[str, Callable[[], list[Step]]] = {
    "in_place": lambda: [_python(editors.in_place)],
    "truncate_then_write": lambda: [_python(editors.truncate_then_write)],
    "truncate_close_then_write": _truncate_close_then_write,
    "partial_write": _partial_write,
    "shell >": lambda: [_shell('printf "template: edited\\n" > "$1"')],
    "shell >>": lambda: [_shell('printf "# more\\n" >> "$1"')],
    "os_replace": lambda: [_python(editors.os_replace)],
    "sed -i": lambda: [_run("sed", "-i", "s/x/edited/")],
    "jetbrains": lambda: [_python(editors.jetbrains)],
    "gedit": lambda: [_python(_gedit)],
    "vim_rename (python)": lambda: [_python(editors.vim_rename)],
    "vim backupcopy=no": lambda: [_run(*VIM, "-c", "set backup writebackup backupskip= "
                                       "backupcopy=no", "-c", "%s/x/edited/", "-c", "wq")],
    "vim defaults": lambda: [_run(*VIM, "-c", "%s/x/edited/", "-c", "wq")],
    "emacs": lambda: [_run("emacs", "--batch", "-Q", "--eval",
                           f'(progn (find-file (car (last command-line-args))) {EMACS_EVAL})')],
    "touch": lambda: [_run("touch")],
    "cat (a reader)": lambda: [_run("cat")],
    "chmod": lambda: [_run("chmod", "g+w")],
}


def _gedit(path: Path, text: str) -> None:
    tmp = path.with_name(".goutputstream-Q1W2E3")
    tmp.write_text(text)
    os.rename(tmp, path)


class _Log(FileSystemEventHandler):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.events: list[list[str]] = []
        self.lock = threading.Lock()

    def _name(self, path: bytes | str) -> str:
        return Path(os.fsdecode(path)).relative_to(self.root).as_posix() if path else ""

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = ("dir_" if event.is_directory else "") + event.event_type
        row = [kind, self._name(event.src_path)]
        if event.dest_path:
            row.append(self._name(event.dest_path))
        with self.lock:
            self.events.append(row)

    def take_until(self, marker: str, deadline: float) -> list[list[str]]:
        """The events before the marker's rename (then dropped with it), waited for."""
        end = time.monotonic() + deadline
        while True:
            with self.lock:
                for i, row in enumerate(self.events):
                    if row[0] == "moved" and row[-1] == marker:
                        taken, self.events = self.events[:i], []
                        return [r for r in taken if MARK not in " ".join(r)]
            if time.monotonic() > end:
                raise RuntimeError(f"no event for {marker}")
            time.sleep(0.01)


Run = list[dict[str, Any]]


def record(steps: list[Step]) -> Run:
    """One run: each step's events, as seen at the pause after it, and the file's text then."""
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="record-", dir=REPO / "test-artifacts"))
    names = itertools.count()
    try:
        target = root / "a.yaml"
        target.write_text(BEFORE)
        log = _Log(root)
        observer = Observer()
        observer.schedule(log, str(root), recursive=True)
        observer.start()
        try:
            phases = []
            for step in [lambda _: None, *steps]:  # the first cut: the observer is ready
                step(target)
                # Read now, so its opened/closed_no_write land in this step (as watch's reads do).
                text = target.read_text() if target.exists() else None
                marker = f"{MARK}{next(names)}"
                fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{MARK}", suffix=".tmp")
                os.close(fd)
                os.rename(tmp, root / marker)
                phases.append({"events": log.take_until(marker, 10.0), "text": text})
            return phases[1:]
        finally:
            observer.stop()
            observer.join()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def corpus() -> Iterator[tuple[str, list[Run]]]:
    """Every writer whose program is installed, with its distinct runs."""
    for name, make in WRITERS.items():
        program = name.split()[0]
        if program in ("vim", "emacs", "sed") and shutil.which(program) is None:
            print(f"skipped {name}: {program} is not installed", file=sys.stderr)
            continue
        runs: dict[str, Run] = {}
        for _ in range(RUNS):
            run = record(make())
            runs.setdefault(_shape(run), run)
        yield name, list(runs.values())


def _shape(run: Run) -> str:
    """A run with its temp files' random names numbered: runs alike but for those are one."""
    names: dict[str, str] = {}
    rows = [[row[0], *(names.setdefault(n, n if n == "a.yaml" else f"#{len(names)}")
                       for n in row[1:])] for step in run for row in step["events"]]
    return json.dumps(rows)


def main(argv: list[str]) -> int:
    data = {
        "recorded": "watchdog " + __import__("watchdog.version").version.VERSION_STRING
                    + f", Linux {os.uname().release}, in a folder outside /tmp",
        "format": "writer -> distinct runs -> steps: {events: [type, src, dest?] relative to "
                  "the folder (dir_* for directories), text: a.yaml's text after the step}",
        "before": BEFORE,
        "writers": dict(corpus()),
    }
    text = json.dumps(data, indent=1) + "\n"
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
