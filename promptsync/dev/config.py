"""Where `promptsync dev` serves, as promptsync.yaml tells every other command.

Other commands find the dev server the way they find any server, through `server` in
promptsync.yaml. So `dev` writes its URL there when the file names no server or a local one
(editing that one line in place, comments kept), and without --port it serves on the port the
file names. A promptsync.yaml naming a remote server is the team's shared setting, committed with
the repository, and is left alone: `dev` then says how to reach it instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from promptsync.config import (
    CONFIG_FILENAME,
    DEFAULT_DIR,
    RepoConfig,
    read_repo_config,
    write_repo_config,
)
from promptsync.fsutil import atomic_write
from promptsync.sync.state import gitignore_state

DEFAULT_PORT = 5000
_LOOPBACK_NAMES = frozenset({"localhost", "::1"})
# A top-level `key:` line, its value and an end-of-line comment (kept when it is rewritten).
_LINE = r"^{key}[ \t]*:[ \t]*(?P<value>[^#\r\n]*?)[ \t]*(?P<comment>#[^\r\n]*)?(?=\r?$)"


def is_local(url: str | None) -> bool:
    """Whether ``url`` is a plain-http server on this machine (what `dev` serves)."""
    if not url:
        return False
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "http" and (
        host in _LOOPBACK_NAMES or host.endswith(".localhost") or host.startswith("127.")
    )


def default_port(configured: str | None) -> int:
    """The port of a local ``server`` in promptsync.yaml (the last dev run's), else 5000."""
    if not is_local(configured):
        return DEFAULT_PORT
    assert configured is not None
    try:
        port = urlsplit(configured).port
    except ValueError:
        return DEFAULT_PORT
    return port or DEFAULT_PORT


def _with_setting(text: str, key: str, value: str) -> str:
    """promptsync.yaml's text with ``key: value`` set, every other line and comment as it was."""
    match = re.compile(_LINE.format(key=re.escape(key)), re.M).search(text)
    if match:
        comment = f"  {match['comment']}" if match["comment"] else ""
        return f"{text[:match.start()]}{key}: {value}{comment}{text[match.end():]}"
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    # After the leading comments and blank lines, before the first setting.
    at = next((i for i, line in enumerate(lines) if line.strip()
               and not line.lstrip().startswith("#")), len(lines))
    if at == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    lines.insert(at, f"{key}: {value}{newline}")
    return "".join(lines)


def update_repo_config(repo: RepoConfig, **settings: str) -> None:
    """Set ``server`` and/or ``project`` in promptsync.yaml, keeping its other lines and comments.

    The edited text must parse to the same settings with only these changed; when the file is
    written in a shape a line edit cannot handle (flow style, a quoted or multi-line value, a
    duplicate key), it is rewritten whole from its settings instead.
    """
    text = repo.path.read_bytes().decode("utf-8")
    before = yaml.safe_load(text) or {}
    edited = text
    for key, value in settings.items():
        edited = _with_setting(edited, key, value)
    try:
        after = yaml.safe_load(edited) or {}
    except yaml.YAMLError:
        after = None
    if isinstance(before, dict) and after == {**before, **settings}:
        atomic_write(repo.path, edited.encode("utf-8"))
    else:
        write_repo_config(repo.root, settings.get("server", repo.server),
                          settings.get("project", repo.project), repo.dir)


@dataclass(frozen=True)
class PointedRepo:
    """promptsync.yaml after `dev` pointed it at its server, and what that took."""

    repo: RepoConfig
    wrote: bool = False  # there was no promptsync.yaml: it was written
    ignored: bool = False  # .promptsync/ was added to the root .gitignore (with ``wrote``)
    changed: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # key: (old, new)


def point_repo(root: Path, server: str, project: str) -> PointedRepo:
    """promptsync.yaml written, or pointed at the dev server when that is ours to change."""
    if not (root / CONFIG_FILENAME).exists():
        write_repo_config(root, server, project, DEFAULT_DIR)
        ignored = gitignore_state(root)
        return PointedRepo(read_repo_config(root), wrote=True, ignored=ignored)
    repo = read_repo_config(root)
    changes = {}
    # A remote server in the committed file is the team's setting: not ours to change.
    if repo.server != server and (repo.server is None or is_local(repo.server)):
        changes["server"] = server
    if repo.project is None:
        changes["project"] = project
    if not changes:
        return PointedRepo(repo)
    update_repo_config(repo, **changes)
    changed = {key: (getattr(repo, key), value) for key, value in changes.items()}
    return PointedRepo(read_repo_config(root), changed=changed)
