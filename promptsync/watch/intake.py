"""The watcher's side of `watch`: judge the files it delivers, report bad ones, queue good ones.

It runs on the watcher's worker thread and never touches the network: what it queues waits in
the journal of `.promptsync/state.json` until the sync thread (watch/daemon.py), woken by
``wake``, sends it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from promptsync.errors import PromptFileError
from promptsync.format.prompt import slug_for_path
from promptsync.sync.engine import SyncEngine
from promptsync.sync.plan import check_file
from promptsync.sync.scan import BadFile, LocalFile, load_file
from promptsync.sync.tree import walk
from promptsync.watch.eventlog import EventLog, plural
from promptsync.watch.outbox import Outbox, last_hashes


class Intake:
    """Turn delivered paths into queued saves and archives; ``down`` says why saves wait."""

    def __init__(self, engine: SyncEngine, outbox: Outbox, say: EventLog,
                 wake: Callable[[], None], down: Callable[[], str | None]) -> None:
        self.engine = engine
        self.root = engine.dir
        self.outbox = outbox
        self.say = say
        self._wake = wake
        self._down = down
        self._seen: dict[str, tuple[int, ...]] = {}  # path -> stat when last judged (rescans)

    def changed(self, paths: list[Path]) -> None:
        """Judge the files the watcher delivered; queue the changed, valid ones."""
        self._judge(paths)

    def rescan(self, recheck: Callable[[list[Path]], None] | None) -> None:
        """Events may have been lost: judge every file changed since it was last judged;
        files of synced prompts now missing go to ``recheck`` (the watcher's grace period)."""
        changed: list[Path] = []
        present: set[str] = set()
        for path in walk(self.root):
            key = str(path)
            present.add(key)
            if self._seen.get(key) != _stat(path):
                changed.append(path)
        for key in set(self._seen) - present:
            del self._seen[key]
        self._judge(changed)
        missing = [self.root / entry.path for entry in self.engine.reload().entries.values()
                   if not entry.archived and not os.path.lexists(self.root / entry.path)]
        if missing and recheck is not None:
            # Believed deleted only once missing for the grace period: an editor's save may
            # have the file away for a moment right now. The watcher hands them back then.
            recheck(missing)
        elif missing:
            self._judge(missing)

    def _judge(self, paths: Iterable[Path]) -> None:
        state = self.engine.reload()
        latest = last_hashes(state)
        good: list[LocalFile] = []
        gone: list[str] = []
        seen: dict[str, tuple[int, ...]] = {}
        for path in paths:
            relpath = path.relative_to(self.root).as_posix()
            signature = _stat(path)
            if not signature:
                try:
                    gone.append(slug_for_path(relpath))
                except PromptFileError:
                    pass  # never a prompt: nothing to archive
                continue
            item = load_file(self.root, path, relpath)
            seen[str(path)] = signature
            if isinstance(item, BadFile):
                self.say.invalid(relpath, item.problems)
            elif (refused := self.say.refused_bytes(relpath, item.sha256)) is not None:
                # The server judged these very bytes invalid: sending them again (a save
                # without change, a touch) changes nothing. Said once, as lint says it.
                self.say.invalid(relpath, refused, item.sha256)
            elif latest.get(item.slug) == item.sha256:
                # A touch, a save without change, our own pull, or a bad save put back.
                entry = state.get(item.slug)
                synced = entry is not None and not entry.archived and entry.sha256 == item.sha256
                self.say.same_as_synced(item.slug, relpath,
                                        entry.version if entry and synced else None, item.sha256)
            elif self.say.in_conflict(item.slug, item.sha256):
                pass  # reported already; saving it again (other bytes) tries again
            elif problems := check_file(item):
                self.say.invalid(relpath, problems, item.sha256)
            else:
                good.append(item)
        self.queue(good, gone)
        self._seen.update(seen)  # only now: a failed queue must be retried by the next rescan

    def queue(self, files: list[LocalFile], gone: list[str] | None = None) -> None:
        """Queue saves (a rename when a file holds a missing prompt's bytes) and archives."""
        if not files and not gone:
            return
        added = self.outbox.enqueue(files, gone or ())
        for local in added.saves:
            self.say.queued(local.slug, local.relpath, local.sha256)
        if (added.saves or added.archives) and (why := self._down()) is not None:
            self.say(f"{why}, {plural(self.outbox.count(), 'change')} queued")
        self._wake()


def _stat(path: Path) -> tuple[int, ...]:
    """What changes when a file is written or replaced; () when it is gone."""
    try:
        st = os.lstat(path)
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
