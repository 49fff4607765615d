"""``promptsync login``: sign in, create this machine's API key, store it privately.

Logging in again on a machine replaces the key login stored there before for the same server and
project (see ``client/login.py``), so keys do not pile up on the server.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING, Any

import click

from promptsync.cli.context import Obj, pass_obj
from promptsync.cli.output import echo_err
from promptsync.client.login import login_key_name, revoke_previous
from promptsync.errors import ApiError, ConfigError, PromptSyncError

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient


def _ask(text: str, hide_input: bool = False) -> str:
    """Prompt for ``text``; stdin at its end outside a terminal (CI) is a usage error naming
    the options, not the "interrupted" of a Ctrl-C."""
    try:
        return str(click.prompt(text, hide_input=hide_input, err=True))
    except click.Abort:
        if sys.stdin.isatty():
            raise
        raise click.UsageError(f"{text} not given and stdin is not a terminal: pass --email "
                               "and the password on stdin with --password-stdin") from None


@click.command()
@click.option("--email", help="Your account's email (asked when missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_obj
def login(obj: Obj, email: str | None, password_stdin: bool) -> None:
    """Sign in, create an API key for this machine and project, store it privately.

    Logging in again replaces the key login stored before for this server and project: it is
    revoked once the new one is stored (only a key login made for you; others are left alone).
    """
    from promptsync.config import (  # start-up cost: PyYAML
        ENV_API_KEY,
        credentials_path,
        stored_project_key,
    )

    server = obj.require_server()
    project = obj.require_project()
    # Read before signing in: an unreadable credentials file stops here, before a key is made.
    previous = stored_project_key(server, project)
    if not email:
        email = _ask("Email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: nothing was read from stdin")
    else:
        password = _ask("Password", hide_input=True)
    api = obj.client(with_key=False)
    try:
        signed_in = api.login(email, password)
    except ApiError as exc:
        if exc.status == 401:
            raise ConfigError(f"wrong email or password for {server}") from None
        raise
    user = signed_in.get("user")
    me = str(user["email"]) if isinstance(user, dict) and user.get("email") else email
    try:
        role = _member_role(api, server, project, me)
        created = _create_key(api, project, login_key_name(socket.gethostname()), role)
        _store(api, server, project, created)
        # Only now, with the new key safely stored, may the one it replaces go.
        replaced = revoke_previous(api, project, previous, me) if previous else None
    finally:
        try:
            api.logout()  # the key is all we keep; end the session
        except PromptSyncError:
            pass
    echo_err(f"logged in to {server} as {me}: created the {role} key {created['prefix']} "
             f"for '{project}', stored in {credentials_path()}")
    if replaced is not None and replaced.revoked:
        echo_err(f"revoked {replaced.prefix}, the key login stored here before")
    elif replaced is not None:
        echo_err(f"warning: could not revoke {replaced.prefix}, the key login stored here "
                 f"before: {replaced.reason}; revoke it on {server}/admin/p/{project}/keys")
    if role == "viewer":
        echo_err(f"note: you are a viewer of '{project}': status, pull, get and render work; "
                 "push and label need the editor role (ask an admin of the project)")
    if obj.api_key or os.environ.get(ENV_API_KEY, "").strip():
        echo_err("note: PROMPTSYNC_API_KEY or --api-key is set and takes precedence")


def _member_role(api: ApiClient, server: str, project: str, email: str) -> str:
    """The signed-in user's role in ``project``; ConfigError when they are not a member."""
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
        invited = next((i for i in api.me().get("invitations") or ()
                        if isinstance(i, dict) and i.get("project") == project), None)
        if invited is not None:  # nobody becomes a member without saying yes
            raise ConfigError(f"{email} is invited to project '{project}' as "
                              f"{invited.get('role')} and has not accepted yet: accept it on "
                              f"{server}/admin/ (your projects), then run promptsync login again")
        raise ConfigError(f"{email} is not a member of project '{project}' on {server}: "
                          "ask one of its admins to add you, or check --project")
    return str(role)


def _create_key(api: ApiClient, project: str, name: str, role: str) -> dict[str, Any]:
    try:
        return api.create_key(project, name, role)
    except ApiError as exc:
        if exc.status == 403:
            # An older server lets only admins create keys: say what to do there too.
            raise ConfigError(
                f"{exc.detail.rstrip('.')}: this server lets you create no key for '{project}';"
                " ask one of its admins for a key and set PROMPTSYNC_API_KEY"
            ) from None
        raise


def _store(api: ApiClient, server: str, project: str, created: dict[str, Any]) -> None:
    """Store the new key; when that fails, revoke it (no use to anyone) and keep the old one."""
    from promptsync.config import save_credentials  # start-up cost: PyYAML

    try:
        save_credentials(server, project, created["key"])
    except (PromptSyncError, OSError):
        try:
            api.delete_key(project, created["id"])
        except PromptSyncError:
            pass  # the storage error is the one to report
        raise


COMMANDS = [login]
