"""The user's credentials file (written by `promptsync login`): API keys by server and project."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from promptsync.errors import ConfigError
from promptsync.fsutil import atomic_write
from promptsync.serverurl import normalize_server


def config_home() -> Path:
    """The user's config directory: ``$XDG_CONFIG_HOME`` if absolute, else ``~/.config``."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    return Path.home() / ".config"


def credentials_path() -> Path:
    """Where ``promptsync login`` stores API keys."""
    return config_home() / "promptsync" / "credentials.yaml"


def read_credentials(path: Path) -> dict[str, Any]:
    """The credentials file's content ({} when there is none); ConfigError when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML; fix or delete it and log in again") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("servers", {}), dict):
        raise ConfigError(f"{path}: unexpected layout; fix or delete it and log in again")
    return data


def save_credentials(server: str, project: str | None, api_key: str) -> Path:
    """Store ``api_key`` for ``server`` (and ``project``) in the 0600 credentials file."""
    server = normalize_server(server)
    path = credentials_path()
    directory = path.parent
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    data = read_credentials(path)
    servers = data.setdefault("servers", {})
    entry = servers.get(server)
    if not isinstance(entry, dict):
        entry = servers[server] = {}
    if project:
        keys = entry.get("keys")
        if not isinstance(keys, dict):
            keys = entry["keys"] = {}
        keys[project] = api_key
        # A later lookup without a project (e.g. the SDK on key-scoped routes) gets this key.
        entry["default_project"] = project
    else:
        entry["api_key"] = api_key
    write_credentials(path, data)
    return path


def write_credentials(path: Path, data: Mapping[str, Any]) -> None:
    """Write the credentials file whole, readable by its owner only."""
    text = "# promptsync API keys: keep this file private (mode 0600)\n"
    text += yaml.safe_dump(dict(data), sort_keys=True, default_flow_style=False)
    atomic_write(path, text.encode("utf-8"), mode=stat.S_IRUSR | stat.S_IWUSR)


def stored_project_key(server: str, project: str) -> str | None:
    """The key stored for exactly ``server`` and ``project`` (no fallback); raises ConfigError
    when the credentials file cannot be read, so login fails before it makes a key."""
    entry = read_credentials(credentials_path()).get("servers", {}).get(normalize_server(server))
    keys = entry.get("keys") if isinstance(entry, dict) else None
    candidate = keys.get(project) if isinstance(keys, dict) else None
    return candidate if isinstance(candidate, str) and candidate else None


def load_api_key(server: str, project: str | None = None) -> str | None:
    """Return the stored key for ``server`` and ``project``; None when nothing is stored."""
    try:
        server = normalize_server(server)
    except ConfigError:
        return None
    entry = read_credentials(credentials_path()).get("servers", {}).get(server)
    if not isinstance(entry, dict):
        return None
    keys = entry.get("keys")
    if not isinstance(keys, dict):
        keys = {}
    if project is None:
        project = entry.get("default_project")
    candidate = keys.get(project) if project is not None else None
    if candidate is None:
        candidate = entry.get("api_key")
    return candidate if isinstance(candidate, str) and candidate else None
