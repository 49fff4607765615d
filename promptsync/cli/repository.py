"""``promptsync init``: make the current folder a prompt repository (promptsync.yaml)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from promptsync.cli.context import Obj, display, pass_obj
from promptsync.cli.output import echo_err
from promptsync.sync.state import ensure_state_dir, gitignore_state

_PROJECT_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # as the server checks a project's slug


@click.command()
@click.option("--server", "server_opt", metavar="URL", help="API server URL.")
@click.option("--project", "project_opt", metavar="SLUG", help="Project slug on the server.")
@click.option("--dir", "dir_opt", metavar="DIR", help="Prompts directory [prompts].")
@pass_obj
def init(obj: Obj, server_opt: str | None, project_opt: str | None, dir_opt: str | None) -> None:
    """Write promptsync.yaml here, create the prompts dir, git-ignore .promptsync/."""
    from promptsync.config import (  # start-up cost: PyYAML
        CONFIG_FILENAME,
        DEFAULT_DIR,
        read_repo_config,
        write_repo_config,
    )

    given = project_opt or obj.project
    if given is not None and not _PROJECT_SLUG.fullmatch(given):
        # The server's rule: a display name ("Support Bot") would fail every later command.
        raise click.BadParameter(f"{given!r} is not a project slug: 1-63 characters of "
                                 "a-z, 0-9 and '-', e.g. support-bot", param_hint="'--project'")
    root = Path.cwd()
    existing = read_repo_config(root) if (root / CONFIG_FILENAME).exists() else None
    server = server_opt or obj.server or (existing.server if existing else None)
    project = project_opt or obj.project or (existing.project if existing else None)
    directory: str | Path = dir_opt or (existing.dir if existing else DEFAULT_DIR)
    write_repo_config(root, server, project, directory)
    repo = read_repo_config(root)
    repo.dir.mkdir(parents=True, exist_ok=True)
    ensure_state_dir(repo.state_dir)
    gitignore_state(repo.root)
    verb = "updated" if existing else "wrote"
    echo_err(f"{verb} {display(repo.path)} (server: {server or 'not set'}, project: "
             f"{project or 'not set'}, prompts in {display(repo.dir)}/)")
    if not server or not project:
        echo_err("next: promptsync init --server URL --project SLUG")
    else:
        echo_err("next: promptsync login, then promptsync push")


COMMANDS = [init]
