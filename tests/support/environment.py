"""Keeping the settings of whoever runs the tests away from the promptsync under test."""

from __future__ import annotations

import os
from pathlib import Path

# What the promptsync client reads from the environment (a test sets them itself if it wants them).
CLIENT_VARIABLES = ("PROMPTSYNC_SERVER", "PROMPTSYNC_PROJECT", "PROMPTSYNC_API_KEY",
                    "PROMPTSYNC_BUNDLE")


# What an outer make (`make test` runs the suite under `make -j2 -Oline`) hands its children: a
# make a test starts would inherit the jobs, the output sync (its recipe's output captured, not
# on the test's terminal) and the jobserver's file descriptors.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def outside_make() -> dict[str, str]:
    """This environment as a shell outside any make has it."""
    return {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES}


def command_env(config_home: Path, **extra: str) -> dict[str, str]:
    """This environment without PROMPTSYNC_* settings or an outer make's, and a private config
    home (credentials)."""
    env = {k: v for k, v in outside_make().items() if not k.startswith("PROMPTSYNC_")}
    env.update(XDG_CONFIG_HOME=str(config_home), **extra)
    return env
