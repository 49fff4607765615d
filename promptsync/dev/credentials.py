"""The user's credentials file as `promptsync dev` leaves it: without dev's key.

`dev` keeps its key in the repository (`.promptsync/`, see config.dev_key), where the commands
run there find it; it used to store the key in the credentials file too, under each URL it
served on, so every port ever used left an entry behind. Those entries are removed.
"""

from __future__ import annotations

from collections.abc import Collection

from promptsync.config import credentials_path, read_credentials, write_credentials


def forget_keys(api_keys: Collection[str]) -> int:
    """Remove every stored entry holding one of ``api_keys`` (dev's); how many went."""
    path = credentials_path()
    data = read_credentials(path)
    servers = data.get("servers") or {}
    removed = 0
    for server, entry in list(servers.items()):
        if not isinstance(entry, dict):
            continue
        keys = entry.get("keys")
        if isinstance(keys, dict):
            for project in [p for p, key in keys.items() if key in api_keys]:
                del keys[project]
                removed += 1
            if not keys:
                del entry["keys"]
            if entry.get("default_project") not in (keys or {}):
                entry.pop("default_project", None)
        if entry.get("api_key") in api_keys:
            del entry["api_key"]
            removed += 1
        if not entry:
            del servers[server]
    if removed:
        write_credentials(path, data)
    return removed
