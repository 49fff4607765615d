"""The repository's promptsync.yaml: found from a folder upwards, read strictly, written whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptsync.errors import ConfigError
from promptsync.fsutil import atomic_write
from promptsync.serverurl import normalize_server

CONFIG_FILENAME = "promptsync.yaml"
DEFAULT_DIR = "prompts"
_CONFIG_KEYS = ("server", "project", "dir")


@dataclass(frozen=True)
class RepoConfig:
    """A loaded promptsync.yaml: ``root`` holds it, ``dir`` is the absolute prompts directory."""

    root: Path
    server: str | None
    project: str | None
    dir: Path

    @property
    def path(self) -> Path:
        """The promptsync.yaml file itself."""
        return self.root / CONFIG_FILENAME

    @property
    def state_dir(self) -> Path:
        """The git-ignored ``.promptsync/`` directory beside promptsync.yaml."""
        return self.root / ".promptsync"


def find_repo_root(start: Path | None = None) -> Path | None:
    """Walk up from ``start`` (default: the working dir) to the dir holding promptsync.yaml."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILENAME).is_file():
            return candidate
    return None


def _optional_str(data: Mapping[str, Any], key: str, path: Path) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: '{key}' must be a non-empty string")
    return value.strip()


def _resolve_dir(root: Path, value: str | Path, source: str) -> Path:
    """Return the absolute prompts directory, refusing one outside the repository."""
    relative = Path(value)
    if relative.is_absolute():
        try:
            relative = relative.resolve().relative_to(root)
        except ValueError:
            raise ConfigError(f"{source}: 'dir' must be inside {root}, got {value}") from None
    absolute = (root / relative).resolve()
    if absolute != root and root not in absolute.parents:
        raise ConfigError(f"{source}: 'dir' must be inside {root}, got {value}")
    return absolute


def read_repo_config(root: Path) -> RepoConfig:
    """Parse ``root/promptsync.yaml``; raise ConfigError naming the file on any problem."""
    root = Path(root).resolve()
    path = root / CONFIG_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from exc
    if data is None:
        data = {}  # an empty file means "all defaults"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with {', '.join(_CONFIG_KEYS)}")
    unknown = sorted(str(k) for k in data if k not in _CONFIG_KEYS)
    if unknown:
        # Refuse rather than ignore: a typo such as "sever:" would otherwise go unnoticed.
        raise ConfigError(f"{path}: unknown keys: {', '.join(unknown)}")
    server = _optional_str(data, "server", path)
    if server is not None:
        try:
            server = normalize_server(server)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    project = _optional_str(data, "project", path)
    directory = _optional_str(data, "dir", path) or DEFAULT_DIR
    return RepoConfig(
        root=root,
        server=server,
        project=project,
        dir=_resolve_dir(root, directory, str(path)),
    )


def load_repo_config(start: Path | None = None) -> RepoConfig | None:
    """Find promptsync.yaml from ``start`` upwards, as git finds .git; None when there is none."""
    root = find_repo_root(start)
    return read_repo_config(root) if root is not None else None


def write_repo_config(
    root: Path,
    server: str | None = None,
    project: str | None = None,
    dir: str | Path = DEFAULT_DIR,  # named after the promptsync.yaml key
) -> Path:
    """Write ``root/promptsync.yaml`` atomically and return its path."""
    root = Path(root).resolve()
    relative = _resolve_dir(root, dir, "dir").relative_to(root)
    data: dict[str, str] = {}
    if server:
        data["server"] = normalize_server(server)
    if project:
        data["project"] = project
    data["dir"] = relative.as_posix() if relative.parts else "."
    text = "# promptsync repository settings (commit this file)\n"
    text += yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    path = root / CONFIG_FILENAME
    atomic_write(path, text.encode("utf-8"))
    return path
