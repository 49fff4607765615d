"""`promptsync` run in this process through click's CliRunner, against an injected transport."""

from __future__ import annotations

import httpx
from click.testing import CliRunner, Result

from promptsync.cli import cli
from promptsync.cli.context import Obj


def run_cli(transport: httpx.BaseTransport, *args: str, api_key: str | None = None,
            input: str | None = None, terminal: bool | None = None) -> Result:
    """`promptsync [--api-key KEY] ARGS` in this process, its requests sent to ``transport``;
    ``terminal`` says whether stdout is a terminal (CliRunner's never is)."""
    extra = ["--api-key", api_key] if api_key else []
    obj = Obj(transport=transport, terminal=terminal)
    return CliRunner().invoke(cli, [*extra, *args], obj=obj, input=input)
