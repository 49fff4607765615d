"""Where a pulled prompt may be written, and writing it atomically; nothing escapes the dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptsync.errors import PromptFileError, PromptSyncError
from promptsync.fsutil import atomic_write
from promptsync.prompts import EXTENSIONS, slug_for_path, slug_problem, source_sha256
from promptsync.scan import read_prompt_file

if TYPE_CHECKING:
    from promptsync.state import SyncState
    from promptsync.sync import Action


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


def prepare_target(
    root: Path, state: SyncState, action: Action, data: dict[str, Any] | None
) -> tuple[Path, str, int, str, bytes]:
    """Check a fetched version and find its file: (target, relpath, version, sha, bytes)."""
    if data is None or not isinstance(data.get("source"), str):
        raise PromptSyncError("the server sent no source for this prompt")
    version, sha, source = data.get("version"), data.get("sha256"), data["source"]
    if not isinstance(version, int) or source_sha256(source) != sha:
        raise PromptSyncError("the source from the server does not match its sha256")
    entry = state.get(action.slug)
    relpath = relpath_for(action.slug, action.relpath, entry.path if entry else None)
    target = safe_target(root, relpath)
    return target, relpath, version, sha, source.encode("utf-8")


def write_file(target: Path, body: bytes, expected_sha: str | None, *, force: bool) -> None:
    """Replace ``target`` atomically, unless it changed since it was planned (without force)."""
    if not force:
        try:
            current: str | None = source_sha256(read_prompt_file(target))
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise PromptSyncError(f"cannot read {target}: {exc.strerror or exc}") from exc
        if current != expected_sha:
            raise PromptSyncError("the file changed while pulling; run promptsync status")
    try:
        atomic_write(target, body)
    except OSError as exc:
        raise PromptSyncError(f"cannot write {target}: {exc.strerror or exc}") from exc
