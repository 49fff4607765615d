"""Git provenance for pushed files: commit, branch, per-file dirty flag, path; four git calls."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIT_TIMEOUT = 10.0


def _git(cwd: Path, *args: str) -> str | None:
    """Run git; None when git is missing, fails or is not in a repository."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
            # Never let git ask for anything (credentials, an editor) while we wait on it.
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


MAX_BRANCH = 255


@dataclass(frozen=True)
class GitInfo:
    """The repository around the prompts dir, read once per push."""

    root: Path
    commit: str | None
    branch: str | None
    subject: str | None
    dirty: frozenset[str]  # paths relative to root, posix, that differ from HEAD or are untracked

    def for_file(self, path: Path) -> dict[str, Any]:
        """The ``git`` object sent with a push of ``path``."""
        try:
            relative: str | None = Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            # Outside the repository (a symlinked prompts dir): git cannot vouch for the file,
            # and the server takes only relative paths.
            relative = None
        return {
            "commit": self.commit,
            # The server takes a branch of at most MAX_BRANCH characters; git allows longer.
            "branch": self.branch if self.branch and len(self.branch) <= MAX_BRANCH else None,
            "dirty": relative is None or relative in self.dirty or self.commit is None,
            "path": relative,
        }


def _dirty_paths(porcelain: str) -> frozenset[str]:
    """Paths from ``git status --porcelain=v1 -z`` output (renames give two NUL fields)."""
    dirty = set()
    fields = porcelain.split("\0")
    index = 0
    while index < len(fields):
        record = fields[index]
        index += 1
        if len(record) < 4:
            continue
        dirty.add(record[3:])
        if record[0] in "RC":
            index += 1  # the original path of a rename or copy follows
    return frozenset(dirty)


def git_info(directory: Path) -> GitInfo | None:
    """Provenance of the repository holding ``directory``; None outside git or without git."""
    top = _git(directory, "rev-parse", "--show-toplevel")
    if not top:
        return None
    root = Path(top.strip()).resolve()
    head = _git(root, "log", "-1", "--format=%H%x00%s")  # fails on a repo with no commits
    commit = subject = None
    if head:
        commit, _, subject = head.rstrip("\n").partition("\0")
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD")  # None when detached
    status = _git(
        root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--",
        str(Path(directory).resolve()),
    )
    return GitInfo(
        root=root,
        commit=commit or None,
        branch=branch.strip() or None if branch else None,
        subject=subject or None,
        dirty=_dirty_paths(status or ""),
    )
