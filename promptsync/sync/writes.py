"""Where a pulled prompt may be written, and writing it atomically; nothing escapes the dir."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptsync.errors import PromptFileError, PromptSyncError
from promptsync.format.prompt import EXTENSIONS, slug_for_path, slug_problem, source_sha256
from promptsync.fsutil import (
    atomic_write,
    current_umask,
    discard_temp,
    fsync_dirs,
    fsync_path,
    syncfs,
    write_temp,
)
from promptsync.sync.plan import Action
from promptsync.sync.scan import read_prompt_file
from promptsync.sync.state import SyncState


class UnsafePath(PromptSyncError):
    """A slug or path from the server that would write outside the prompts dir, or via a link."""


def relpath_for(slug: str, *candidates: str | None) -> str:
    """The file for ``slug``: a known path if it still names this slug, else ``slug.yaml``."""
    problem = slug_problem(slug)
    # The slug rules already forbid "..", absolute paths and backslashes; check anyway, as the
    # slug comes from the network and a path from it is about to be written.
    if problem is not None or "\\" in slug or slug.startswith("/") or ".." in slug.split("/"):
        raise UnsafePath(f"refusing to write prompt {slug!r}: {problem or 'unsafe path'}")
    for candidate in candidates:
        if candidate and candidate.endswith(EXTENSIONS):
            try:
                if slug_for_path(candidate) == slug:
                    return candidate
            except PromptFileError:
                continue
    return slug + ".yaml"


def safe_target(root: Path, relpath: str) -> Path:
    """Create the folders of ``relpath`` under ``root``, refusing symlinks and non-directories."""
    current = root.resolve()
    parts = relpath.split("/")
    for part in parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            current.mkdir()
            continue
        if stat.S_ISLNK(mode):
            raise UnsafePath(f"refusing to write through the symbolic link {current}")
        if not stat.S_ISDIR(mode):
            raise UnsafePath(f"cannot create a folder: {current} is a file")
    target = current / parts[-1]
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        raise UnsafePath(f"refusing to replace {target}: not a regular file")
    return target


@dataclass(frozen=True)
class Target:
    """A fetched version checked against its hash, and the file it is to be written to."""

    path: Path  # absolute, its folders created, never through a symlink
    relpath: str
    version: int
    sha256: str
    body: bytes = field(repr=False)


def prepare_target(
    root: Path, state: SyncState, action: Action, data: dict[str, Any] | None
) -> Target:
    """Check a fetched version (its source against its sha256) and find the file it goes to."""
    if data is None or not isinstance(data.get("source"), str):
        raise PromptSyncError("the server sent no source for this prompt")
    version, sha, source = data.get("version"), data.get("sha256"), data["source"]
    if not isinstance(version, int) or source_sha256(source) != sha:
        raise PromptSyncError("the source from the server does not match its sha256")
    try:
        body = source.encode("utf-8")
    except UnicodeEncodeError:  # JSON can carry a lone surrogate, which no file can hold
        raise PromptSyncError("the source from the server is not valid text") from None
    entry = state.get(action.slug)
    relpath = relpath_for(action.slug, action.relpath, entry.path if entry else None)
    return Target(safe_target(root, relpath), relpath, version, sha, body)


def _check_unchanged(target: Path, expected_sha: str | None) -> None:
    """Refuse when ``target`` no longer holds what the plan saw (a save while pulling)."""
    try:
        current: str | None = source_sha256(read_prompt_file(target))
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise PromptSyncError(f"cannot read {target}: {exc.strerror or exc}") from exc
    if current != expected_sha:
        raise PromptSyncError("the file changed while pulling; run promptsync status")


def write_file(target: Path, body: bytes, expected_sha: str | None, *, force: bool) -> None:
    """Replace ``target`` atomically, unless it changed since it was planned (without force)."""
    if not force:
        _check_unchanged(target, expected_sha)
    try:
        atomic_write(target, body)
    except OSError as exc:
        raise PromptSyncError(f"cannot write {target}: {exc.strerror or exc}") from exc


def remove_file(root: Path, target: Path, expected_sha: str | None, *, force: bool) -> None:
    """Delete ``target`` unless it changed since it was planned (without force); then the
    folders it leaves empty, up to ``root`` (git keeps no empty folders either)."""
    if not force:
        _check_unchanged(target, expected_sha)
    try:
        os.unlink(target)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PromptSyncError(f"cannot remove {target}: {exc.strerror or exc}") from exc
    folder, top = target.parent, root.resolve()
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            break  # not empty (or not ours to remove): leave it
        folder = folder.parent
    fsync_dirs([folder])


class BatchWriter:
    """Replace many files atomically with one flush to disk for all of them (a large pull).

    The order is that of ``write_file`` for each file, with the fsyncs gathered:

    1. ``stage``: the new bytes go to a temp file beside the target (no fsync);
    2. ``flush``: every staged byte reaches the disk at once (syncfs(2) per filesystem: one
       journal commit instead of one fsync per file; fsync per temp file where there is no
       syncfs);
    3. ``replace``: each temp is renamed over its target (after the same "changed while
       pulling?" check as ``write_file``), so a renamed file always has its data on disk;
    4. ``finish``: the renames themselves reach the disk before the caller records them.

    A crash (or power cut) at any point leaves every target with its old or its new bytes,
    never a mix; the caller records the new hashes (with the old ones) before step 1 and
    settles them after step 4, so either state is recognised. ``discard`` (always call it)
    removes the temp files of targets that were not replaced.
    """

    def __init__(self) -> None:
        self._umask = current_umask()
        self._staged: dict[Path, str] = {}  # target -> temp file
        self._replaced: set[Path] = set()  # folders with a renamed file

    def stage(self, target: Path, body: bytes) -> None:
        """Write ``body`` to a temp file beside ``target``; PromptSyncError when it cannot."""
        try:
            self._staged[target] = write_temp(target, body, umask=self._umask, sync=False)
        except OSError as exc:
            raise PromptSyncError(f"cannot write {target}: {exc.strerror or exc}") from exc

    def flush(self) -> dict[Path, PromptSyncError]:
        """Make every staged temp file durable; the targets whose temp could not be (dropped)."""
        folders = {target.parent for target in self._staged}
        if syncfs(folders):
            return {}
        failed: dict[Path, PromptSyncError] = {}
        for target, tmp_name in list(self._staged.items()):
            try:
                fsync_path(tmp_name)
            except OSError as exc:
                failed[target] = PromptSyncError(f"cannot write {target}: {exc.strerror or exc}")
                discard_temp(self._staged.pop(target))
        return failed

    def replace(self, target: Path, expected_sha: str | None, *, force: bool) -> None:
        """Rename the staged temp over ``target`` unless the file changed (without force)."""
        tmp_name = self._staged[target]
        if not force:
            _check_unchanged(target, expected_sha)  # the temp is removed by discard()
        try:
            os.replace(tmp_name, target)
        except OSError as exc:
            raise PromptSyncError(f"cannot write {target}: {exc.strerror or exc}") from exc
        del self._staged[target]
        self._replaced.add(target.parent)

    def finish(self) -> None:
        """Make the renames durable: one syncfs per filesystem, else an fsync per folder."""
        if self._replaced and not syncfs(self._replaced):
            fsync_dirs(self._replaced)

    def discard(self) -> None:
        """Remove the temp files that were not renamed into place."""
        for tmp_name in self._staged.values():
            try:
                discard_temp(tmp_name)
            except OSError:
                pass  # a dot-file ending in .tmp: ignored by scan and watch, harmless
        self._staged.clear()
