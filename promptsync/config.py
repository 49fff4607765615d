"""Repository config (promptsync.yaml), environment overrides and the credentials store."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from promptsync.errors import ConfigError
from promptsync.fsutil import atomic_write

CONFIG_FILENAME = "promptsync.yaml"
DEFAULT_DIR = "prompts"
ENV_SERVER = "PROMPTSYNC_SERVER"
ENV_PROJECT = "PROMPTSYNC_PROJECT"
ENV_API_KEY = "PROMPTSYNC_API_KEY"
_CONFIG_KEYS = ("server", "project", "dir")
# In .promptsync/: the account `promptsync dev` made (dev/stack.py), with its key and the URL it
# last served the repository's database on.
DEV_ACCOUNT_FILE = "dev-account.json"


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


@dataclass(frozen=True)
class Settings:
    """Effective settings after merging arguments, environment, promptsync.yaml and credentials."""

    server: str | None
    project: str | None
    api_key: str | None
    repo: RepoConfig | None


def normalize_server(url: str) -> str:
    """Return ``url`` without trailing slashes, or raise ConfigError if it is not http(s)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:  # "http://[::1:5000" or "http://host:abc": a traceback otherwise
        parts = urlsplit("")
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query
            or parts.fragment):
        raise ConfigError(f"server must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


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


# --- credentials --------------------------------------------------------------------------


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


def dev_key(repo: RepoConfig, server: str, project: str | None) -> str | None:
    """The key `promptsync dev` keeps in the repository, when ``server`` is the URL it last
    served the repository's database on and ``project`` (if given) is its project."""
    try:
        account = json.loads((repo.state_dir / DEV_ACCOUNT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no dev here (or a file being written): the credentials file decides
    if not isinstance(account, dict):
        return None
    served, key = account.get("server"), account.get("key")
    if not isinstance(served, str) or not isinstance(key, str) or not key:
        return None
    try:
        same = normalize_server(served) == server
    except ConfigError:
        return None
    return key if same and project in (None, account.get("project")) else None


# --- resolution --------------------------------------------------------------------------


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None  # an empty variable counts as unset, as in most tools


def resolve_settings(
    server: str | None = None,
    project: str | None = None,
    api_key: str | None = None,
    start: Path | None = None,
) -> Settings:
    """Merge settings: explicit argument > environment > promptsync.yaml > stored credentials.

    The key of the repository's dev server is the one `promptsync dev` keeps in `.promptsync/`
    (renewed there when revoked), before any stored for that URL.
    """
    repo = load_repo_config(start)
    server = server or _env(ENV_SERVER) or (repo.server if repo else None)
    if server is not None:
        server = normalize_server(server)
    project = project or _env(ENV_PROJECT) or (repo.project if repo else None)
    api_key = api_key or _env(ENV_API_KEY)
    if api_key is None and server is not None and repo is not None:
        api_key = dev_key(repo, server, project)
    if api_key is None and server is not None:
        api_key = load_api_key(server, project)
    return Settings(server=server, project=project, api_key=api_key, repo=repo)
