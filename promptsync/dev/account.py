"""The `promptsync dev` account: a local user, the project and an admin API key, made through
the API on the first run.

They are kept in `.promptsync/dev-account.json` and the key alone in `.promptsync/dev-api-key`
(mode 0600, in the git-ignored folder beside the database they unlock) so that later runs, on
any port, reuse them. The other commands run in the repository find the key there too
(config.dev_key), never in the user's credentials file. The account also records the URL the
database was last served on, so the sync state follows the database to a new port.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path

from promptsync.client.api import ApiClient
from promptsync.dev.files import ACCOUNT_FILE, DEV_DB, KEY_FILE, PRIVATE, read_private
from promptsync.errors import ApiError, ConfigError
from promptsync.fsutil import atomic_write
from promptsync.sync.state import SyncState, ensure_state_dir

DEV_EMAIL = "dev@promptsync.localhost"  # .localhost is reserved for loopback (RFC 6761)
DEFAULT_PROJECT = "demo"


@dataclass(frozen=True)
class DevAccount:
    """The local user, its password, the project and the admin key the CLI uses."""

    email: str
    password: str
    project: str
    key: str
    server: str | None = None  # the URL the database was last served on



def load_account(state_dir: Path) -> DevAccount | None:
    """The stored dev account, or None when there is none (or it is unreadable)."""
    text = read_private(state_dir / ACCOUNT_FILE)
    if text is None:
        return None
    try:
        return DevAccount(**json.loads(text))
    except (ValueError, TypeError):
        return None


def save_account(state_dir: Path, account: DevAccount) -> None:
    """Store the dev account, readable by its owner only."""
    ensure_state_dir(state_dir)
    atomic_write(state_dir / ACCOUNT_FILE, json.dumps(asdict(account), indent=1).encode(),
                 mode=PRIVATE)
    atomic_write(state_dir / KEY_FILE, account.key.encode("ascii") + b"\n", mode=PRIVATE)



def _key_works(url: str, key: str) -> bool:
    with ApiClient(url, key) as api:
        try:
            api.me()
        except ApiError as exc:
            if exc.status in (401, 403):
                return False
            raise
    return True


class Bootstrapped(StrEnum):
    """What bootstrap did for the dev account (each run says it its own way)."""

    REUSED = "reused"  # the stored key still works
    CREATED = "created"  # a new user: the first run, or a database started afresh
    NEW_KEY = "new key"  # the stored user, a new key: the old one was revoked


def bootstrap(url: str, project: str, state_dir: Path) -> tuple[DevAccount, Bootstrapped]:
    """The dev account: reused while its key works, else a new key, else a new user."""
    stored = load_account(state_dir)
    if stored is not None and stored.project == project and _key_works(url, stored.key):
        return stored, Bootstrapped.REUSED
    outcome = Bootstrapped.CREATED
    email = stored.email if stored is not None else DEV_EMAIL
    password = stored.password if stored is not None else secrets.token_urlsafe(15)
    with ApiClient(url) as api:
        try:
            api.signup(email, password)
        except ApiError as exc:
            if exc.status != 409:
                raise
            outcome = Bootstrapped.NEW_KEY  # the user is there: only its key is new
        try:
            api.login(email, password)
        except ApiError as exc:
            if exc.status == 401:
                raise ConfigError(
                    f"{email} exists in {state_dir / DEV_DB} with another password: delete "
                    "that file to start afresh (its prompts are in your files)"
                ) from None
            raise
        roles = {p.get("slug"): p.get("role") for p in api.projects()}
        if project not in roles:
            try:
                api.create_project(project, project.replace("-", " ").title())
            except ApiError as exc:
                if exc.status != 409:
                    raise
                roles[project] = None  # someone else's: removed from it in the admin, say
        if roles.get(project, "admin") != "admin":
            where = (f"is a {roles[project]} of" if roles[project] else "is not a member of")
            raise ConfigError(
                f"{email} {where} project '{project}' on this dev server, and dev needs an "
                f"admin key: have an admin of '{project}' add it back as an admin (the "
                f"password is in {state_dir / ACCOUNT_FILE}), or delete {state_dir / DEV_DB} "
                "to start afresh (its prompts are in your files)"
            )
        # No logout: it ends every session of the user, so the admin page where the old key
        # was just revoked would be logged out too. This session's cookie dies with the client.
        key = api.create_key(project, "promptsync dev", "admin")["key"]
    account = DevAccount(email, password, project, str(key))
    save_account(state_dir, account)
    return account, outcome


# --- the URL the database is served on ---------------------------------------------------


def remember_server(state_dir: Path, account: DevAccount, server: str, project: str,
                    fresh: bool) -> DevAccount:
    """Record that the database is now served on ``server``; carry the sync state over.

    The sync state is kept per server URL: after a run on another port, what was in sync (and
    any save still in the journal) belongs to this same database, so it moves with it.
    """
    previous = account.server
    if not fresh and previous and previous != server:
        state = SyncState.load(state_dir, previous, project)
        if state.entries or state.journal:
            state.server = server
            state.save()
    if previous != server:
        account = replace(account, server=server)
        save_account(state_dir, account)
    return account


def forget_synced(state_dir: Path, server: str, project: str) -> None:
    """Empty the sync state of ``server``: a new database knows none of the versions it names."""
    state = SyncState.load(state_dir, server, project)
    state.entries.clear()
    state.journal.clear()
    state.save()
