"""``promptsync login``: sign in, create this machine's API key, store it privately."""

from __future__ import annotations

import os
import sys

import click

from promptsync.cli_context import Obj, echo_err, pass_obj
from promptsync.errors import ApiError, ConfigError, PromptSyncError


@click.command()
@click.option("--email", help="Your account's email (asked when missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_obj
def login(obj: Obj, email: str | None, password_stdin: bool) -> None:
    """Sign in, create an API key for this machine and project, store it privately."""
    import socket

    from promptsync.config import ENV_API_KEY, credentials_path, save_credentials

    server = obj.require_server()
    project = obj.require_project()
    if not email:
        email = click.prompt("Email", err=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: nothing was read from stdin")
    else:
        password = click.prompt("Password", hide_input=True, err=True)
    api = obj.client(with_key=False)
    try:
        api.login(email, password)
    except ApiError as exc:
        if exc.status == 401:
            raise ConfigError(f"wrong email or password for {server}") from None
        raise
    try:
        projects = api.projects()
    except ApiError as exc:
        if exc.status == 401:
            # Signed in, yet the next request is anonymous: the cookie was not sent back.
            raise ConfigError(
                f"signed in, but {server} did not accept the session cookie on the next request"
                " (a production server marks it Secure, which is never sent over plain http):"
                " use https, or PROMPTSYNC_ENV=development for a local server"
            ) from None
        raise
    role = next((p.get("role") for p in projects if p.get("slug") == project), None)
    if role is None:
        raise ConfigError(f"{email} is not a member of project '{project}' on {server}: "
                          "ask one of its admins to add you, or check --project")
    name = f"promptsync on {socket.gethostname()}"[:100]
    try:
        created = api.create_key(project, name, str(role))
    except ApiError as exc:
        if exc.status == 403:
            # An older server lets only admins create keys: say what to do there too.
            raise ConfigError(
                f"{exc.detail.rstrip('.')}: this server lets you create no key for '{project}';"
                " ask one of its admins for a key and set PROMPTSYNC_API_KEY"
            ) from None
        raise
    finally:
        try:
            api.logout()  # the key is all we keep; end the session
        except PromptSyncError:
            pass
    save_credentials(server, project, created["key"])
    echo_err(f"logged in to {server} as {email}: created the {role} key {created['prefix']} "
             f"for '{project}', stored in {credentials_path()}")
    if role == "viewer":
        echo_err(f"note: you are a viewer of '{project}': status, pull, get and render work; "
                 "push and label need the editor role (ask an admin of the project)")
    if obj.api_key or os.environ.get(ENV_API_KEY, "").strip():
        echo_err("note: PROMPTSYNC_API_KEY or --api-key is set and takes precedence")


COMMANDS = [login]
