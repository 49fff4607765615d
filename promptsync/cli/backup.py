"""CLI commands for whole-project backups: backup -o FILE and restore FILE (admin keys)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from promptsync.cli.context import Obj, display, pass_obj
from promptsync.cli.output import echo_err, json_text
from promptsync.errors import ApiError, ConfigError, PromptSyncError
from promptsync.fsutil import atomic_write

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient

FORMAT = "promptsync-export"
# An export holds every version of every prompt: allow for a slow server on a large project.
TIMEOUT = 300.0


def _check_format(data: object, what: str) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{what} is not a promptsync export (no \"format\": \"{FORMAT}\")")


def _api(obj: Obj) -> ApiClient:
    server = obj.require_server()
    if not obj.settings().api_key:
        raise ConfigError(f"no API key for {obj.whose(server)}: run promptsync login, or set "
                          "PROMPTSYNC_API_KEY (backups need an admin key)")
    return obj.client(timeout=TIMEOUT)


def _summary(data: dict[str, Any]) -> str:
    prompts = data.get("prompts") or []
    versions = sum(len(p.get("versions") or []) for p in prompts)
    return f"{len(prompts)} prompts, {versions} versions, {len(data.get('events') or [])} events"


@click.command()
@click.option("-o", "--output", "output", required=True, metavar="FILE",
              help="Where to write the JSON export ('-' for stdout).")
@pass_obj
def backup(obj: Obj, output: str) -> None:
    """Export the whole project (every version, label and event) to FILE."""
    project = obj.require_project()
    data = _api(obj).export_project(project)
    _check_format(data, f"the server's export of '{project}'")
    # Escaped JSON: the same document, and safe when FILE is '-' on a terminal.
    body = json_text(data, indent=1).encode("utf-8") + b"\n"
    if output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        try:
            atomic_write(Path(output), body, mode=0o600)  # every prompt, and people's emails
        except OSError as exc:
            raise PromptSyncError(f"cannot write {output}: {exc.strerror or exc}") from exc
    where = "stdout" if output == "-" else display(output)
    echo_err(f"backed up '{project}': {_summary(data)} to {where}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@pass_obj
def restore(obj: Obj, file: str) -> None:
    """Import a backup into the project, which must have no prompts yet."""
    project = obj.require_project()
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not JSON: {exc}") from exc
    _check_format(data, file)
    try:
        counts = _api(obj).import_project(project, raw)
    except ApiError as exc:
        if exc.status == 413:
            raise ConfigError(
                f"{file} is larger than the server accepts in one request: raise the "
                "server's MAX_CONTENT_LENGTH for the import") from None
        raise
    echo_err(f"restored into '{project}': {counts.get('prompts', 0)} prompts, "
             f"{counts.get('versions', 0)} versions, {counts.get('labels', 0)} labels, "
             f"{counts.get('events', 0)} events, {counts.get('label_history', 0)} label moves, "
             f"{counts.get('promotions', 0)} promotion requests")


COMMANDS = [backup, restore]
