"""Keeping the settings of whoever runs the tests away from the promptsync under test."""

from __future__ import annotations

import os
from pathlib import Path

# What the promptsync client reads from the environment (a test sets them itself if it wants them).
CLIENT_VARIABLES = ("PROMPTSYNC_SERVER", "PROMPTSYNC_PROJECT", "PROMPTSYNC_API_KEY",
                    "PROMPTSYNC_BUNDLE")


def command_env(config_home: Path, **extra: str) -> dict[str, str]:
    """This environment without PROMPTSYNC_* settings, and a private config home (credentials)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTSYNC_")}
    env.update(XDG_CONFIG_HOME=str(config_home), **extra)
    return env
