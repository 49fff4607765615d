"""What `promptsync dev` keeps in `.promptsync/`, beside the database: the file names, and
reading the private ones (mode 0600)."""

from __future__ import annotations

import stat
from pathlib import Path

from promptsync.config import DEV_ACCOUNT_FILE

DEV_DB = "dev.db"
SECRET_FILE = "dev-secret-key"
ACCOUNT_FILE = DEV_ACCOUNT_FILE  # where the other commands find the key (config.dev_key)
KEY_FILE = "dev-api-key"  # the key alone, for the curl line: -H "X-API-Key: $(cat ...)"
LOG_FILE = "dev-server.log"
PRIVATE = stat.S_IRUSR | stat.S_IWUSR


def read_private(path: Path) -> str | None:
    """The stripped text of a private file, or None when it is missing or empty."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
