"""Which listed key `promptsync login` may revoke when it replaces the one stored before."""

from __future__ import annotations

from typing import Any

import pytest

from promptsync.client.login import key_prefix, login_key_name, previous_login_key

STORED = "psk_ab12cd34_secretpart"


def key(prefix: str = "psk_ab12cd34", name: str = "promptsync on laptop",
        created_by: str = "ann@example.com") -> dict[str, Any]:
    return {"id": 7, "prefix": prefix, "name": name, "created_by": created_by, "role": "editor"}


def test_the_stored_login_key_of_the_same_user_is_found() -> None:
    other = key(prefix="psk_99999999")
    assert previous_login_key([other, key()], STORED, "ann@example.com") == key()
    assert previous_login_key([key()], STORED, "Ann@Example.com") == key()  # emails ignore case
    assert previous_login_key([key(name="promptsync on old-hostname")], STORED,
                              "ann@example.com") is not None  # the machine was renamed


@pytest.mark.parametrize("listed", [
    [],  # revoked already, or not visible to this user
    [key(prefix="psk_99999999")],
    [key(created_by="bo@example.com")],  # someone else's login on this machine
    [key(name="promptsync dev")],  # made by promptsync dev
    [key(name="ci")],  # made in the admin or the API
    [key(prefix="psk_")],  # too short to identify anything
    [{"id": 7}],  # a server answering without the fields
])
def test_anything_else_is_left_alone(listed: list[dict[str, Any]]) -> None:
    assert previous_login_key(listed, STORED, "ann@example.com") is None


def test_names_and_prefixes() -> None:
    assert login_key_name("laptop") == "promptsync on laptop"
    assert len(login_key_name("h" * 200)) == 100
    assert key_prefix(STORED) == "psk_ab12cd34"
    assert key_prefix("not-a-key-at-all") == "not-a-key-at"
