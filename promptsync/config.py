"""Effective settings: arguments, then the environment, promptsync.yaml, dev's key, stored keys.

promptsync.yaml is read by promptsync/repoconfig.py and the stored keys by
promptsync/credentials.py; their names are imported from here too, as they always were.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from promptsync.credentials import (
    config_home,
    credentials_path,
    load_api_key,
    read_credentials,
    save_credentials,
    stored_project_key,
    write_credentials,
)
from promptsync.errors import ConfigError
from promptsync.repoconfig import (
    CONFIG_FILENAME,
    DEFAULT_DIR,
    RepoConfig,
    find_repo_root,
    load_repo_config,
    read_repo_config,
    write_repo_config,
)
from promptsync.serverurl import normalize_server

__all__ = [
    "CONFIG_FILENAME", "DEFAULT_DIR", "DEV_ACCOUNT_FILE", "ENV_API_KEY", "ENV_PROJECT",
    "ENV_SERVER", "RepoConfig", "Settings", "config_home", "credentials_path", "dev_key",
    "find_repo_root", "load_api_key", "load_repo_config", "normalize_server",
    "read_credentials", "read_repo_config", "resolve_settings", "save_credentials",
    "stored_project_key", "write_credentials", "write_repo_config",
]

ENV_SERVER = "PROMPTSYNC_SERVER"
ENV_PROJECT = "PROMPTSYNC_PROJECT"
ENV_API_KEY = "PROMPTSYNC_API_KEY"
# In .promptsync/: the account `promptsync dev` made (dev/account.py), with its key and the URL it
# last served the repository's database on.
DEV_ACCOUNT_FILE = "dev-account.json"


@dataclass(frozen=True)
class Settings:
    """Effective settings after merging arguments, environment, promptsync.yaml and credentials."""

    server: str | None
    project: str | None
    api_key: str | None
    repo: RepoConfig | None


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
