"""The `git` object a version may carry (where its source came from), in one fixed shape."""

from __future__ import annotations

import re
from typing import Any

from webapi.errors import HttpError

FIELDS = ("commit", "branch", "dirty", "path")
MAX_BRANCH = 255
MAX_PATH = 4096
_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")  # SHA-1, or a SHA-256 repository
_DRIVE = re.compile(r"[A-Za-z]:")


def _bad(name: str, what: str) -> HttpError:
    return HttpError(400, f"'git.{name}' must be {what}.", field=f"git.{name}")


def _path_problem(path: str) -> str | None:
    if not path or len(path) > MAX_PATH or not path.isprintable():
        return f"a path of 1 to {MAX_PATH} printable characters"
    parts = re.split(r"[/\\]", path)
    if path[0] in "/\\" or _DRIVE.match(path) or ".." in parts:
        return "relative to the repository, without '..'"
    return None


def check_git(git: object) -> dict[str, Any] | None:
    """git when it has the shape (each field optional, null allowed): `commit` 40 or 64
    hexadecimal digits, `branch` up to 255 printable characters, `dirty` a boolean, `path`
    relative; or a 400 naming the field."""
    if git is None:
        return None
    if not isinstance(git, dict):
        raise HttpError(400, "'git' must be an object.", field="git")
    unknown = sorted(set(git) - set(FIELDS))
    if unknown:
        raise HttpError(400, f"'git' takes only {', '.join(FIELDS)}; not {unknown[0][:40]!r}.",
                        field="git")
    commit, branch, dirty, path = (git.get(name) for name in FIELDS)
    if commit is not None and not (isinstance(commit, str) and _COMMIT.fullmatch(commit)):
        raise _bad("commit", "a commit id: 40 or 64 hexadecimal digits")
    if branch is not None and not (isinstance(branch, str) and 0 < len(branch) <= MAX_BRANCH
                                   and branch.isprintable()):
        raise _bad("branch", f"a branch name of 1 to {MAX_BRANCH} printable characters")
    if dirty is not None and not isinstance(dirty, bool):
        raise _bad("dirty", "true or false")
    if path is not None:
        problem = _path_problem(path) if isinstance(path, str) else "a string"
        if problem:
            raise _bad("path", problem)
    return git
