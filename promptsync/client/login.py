"""The key `promptsync login` makes for this machine, and the one it replaces.

Login keeps one key per server and project in the credentials file. Logging in again makes a new
key, and the key stored before is revoked once the new one is safely stored, so that keys do not
pile up on the server. Only a key that login itself made (named ``promptsync on <host>``) and that
the signed-in user created is revoked: keys made in the admin, through the API or by
``promptsync dev``, and keys of other people, are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptsync.errors import ApiError, PromptSyncError

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient

LOGIN_KEY_NAME = "promptsync on "


def login_key_name(host: str) -> str:
    """The name of the key login creates on ``host`` (the API allows 100 characters)."""
    return f"{LOGIN_KEY_NAME}{host}"[:100]


def key_prefix(plaintext: str) -> str:
    """The public start of a key as the server lists it (``psk_ab12cd34``), for messages."""
    parts = plaintext.split("_", 2)
    return "_".join(parts[:2]) if len(parts) == 3 else plaintext[:12]


def previous_login_key(
    keys: Iterable[dict[str, Any]], stored: str, email: str
) -> dict[str, Any] | None:
    """The listed key that ``stored`` is, when login made it and ``email`` created it."""
    for key in keys:
        prefix = key.get("prefix")
        if not isinstance(prefix, str) or len(prefix) < 8 or not stored.startswith(prefix):
            continue
        name, creator = key.get("name"), key.get("created_by")
        if (isinstance(name, str) and name.startswith(LOGIN_KEY_NAME)
                and isinstance(creator, str) and creator.lower() == email.lower()):
            return key
        return None  # the stored key, but made another way or by someone else
    return None  # revoked already, or not visible to this user: nothing to do


@dataclass(frozen=True)
class Replaced:
    """What became of the key stored before: revoked, or still active with the reason."""

    prefix: str
    revoked: bool
    reason: str = ""


def revoke_previous(api: ApiClient, project: str, stored: str, email: str) -> Replaced | None:
    """Revoke the key login stored before for ``project``, if it may; ``api`` is signed in.

    None when there is nothing to revoke. A failure is reported in the result, never raised:
    the new key is stored by now and must stay the outcome of the login.
    """
    try:
        key = previous_login_key(api.keys(project), stored, email)
        if key is None:
            return None
        api.delete_key(project, key["id"])
    except PromptSyncError as exc:
        reason = exc.detail if isinstance(exc, ApiError) else str(exc)
        return Replaced(key_prefix(stored), revoked=False, reason=reason.rstrip("."))
    return Replaced(str(key["prefix"]), revoked=True)
