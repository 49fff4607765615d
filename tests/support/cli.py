"""`promptsync` run in this process through click's CliRunner, against an injected transport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from click.testing import CliRunner, Result

from promptsync.cli import cli
from promptsync.cli.context import Obj


def _no_wait(_seconds: float) -> None:
    pass


def run_cli(transport: httpx.BaseTransport, *args: str, api_key: str | None = None,
            input: str | None = None, terminal: bool | None = None,
            sleep: Callable[[float], None] = _no_wait) -> Result:
    """`promptsync [--api-key KEY] ARGS` in this process, its requests sent to ``transport``;
    ``terminal`` says whether stdout is a terminal (CliRunner's never is); the waits between
    retries go to ``sleep`` (by default none is waited)."""
    extra = ["--api-key", api_key] if api_key else []
    obj = Obj(transport=transport, terminal=terminal, sleep=sleep)
    return CliRunner().invoke(cli, [*extra, *args], obj=obj, input=input)
