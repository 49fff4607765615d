"""Tests for promptsync.sync.state: atomic persistence, the journal, corrupt files, servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptsync.errors import ConfigError
from promptsync.sync.state import STATE_FILENAME, Entry, Pending, StateError, SyncState

SERVER, PROJECT = "http://127.0.0.1:5000", "demo"


def fresh(tmp_path: Path) -> SyncState:
    return SyncState.load(tmp_path / ".promptsync", SERVER, PROJECT)


def test_missing_state_is_empty_and_save_creates_an_ignored_dir(tmp_path: Path) -> None:
    state = fresh(tmp_path)
    assert state.entries == {} and state.journal == []
    state.record("support/greeting", 3, "abc", "support/greeting.yaml")
    state.save()
    assert (tmp_path / ".promptsync" / ".gitignore").read_text().strip().endswith("*")
    again = fresh(tmp_path)
    assert again.get("support/greeting") == Entry(3, "abc", "support/greeting.yaml")
    assert again.base_version("support/greeting") == 3
    assert again.base_version("other") == 0
    assert again.entries["support/greeting"].sha256 == "abc"
    assert again.entries["support/greeting"].sha256 != "def"


def test_save_leaves_no_temp_files_and_valid_json(tmp_path: Path) -> None:
    state = fresh(tmp_path)
    for n in range(50):
        state.record(f"p{n}", n + 1, f"sha{n}", f"p{n}.yaml")
        state.save()
    names = sorted(p.name for p in (tmp_path / ".promptsync").iterdir())
    assert names == [".gitignore", STATE_FILENAME]
    data = json.loads((tmp_path / ".promptsync" / STATE_FILENAME).read_text())
    assert data["server"] == SERVER and data["project"] == PROJECT
    assert len(data["prompts"]) == 50


def test_state_of_another_server_or_project_counts_as_empty(tmp_path: Path) -> None:
    state = fresh(tmp_path)
    state.record("a", 1, "x", "a.yaml")
    state.save()
    assert SyncState.load(tmp_path / ".promptsync", SERVER, "other").entries == {}
    assert SyncState.load(tmp_path / ".promptsync", "http://elsewhere", PROJECT).entries == {}
    assert "a" in fresh(tmp_path).entries


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"format": "something-else"}',
        b'{"format": "promptsync-state/1", "server": "http://127.0.0.1:5000", "project": "demo",'
        b' "prompts": {"a": {"version": "three", "sha256": "x", "path": "a.yaml"}}}',
        b'{"format": "promptsync-state/1", "server": "http://127.0.0.1:5000", "project": "demo",'
        b' "prompts": {}, "journal": [{"slug": "a"}]}',
    ],
)
def test_a_corrupt_state_file_is_reported_with_what_to_do(tmp_path: Path, content: bytes) -> None:
    (tmp_path / ".promptsync").mkdir()
    (tmp_path / ".promptsync" / STATE_FILENAME).write_bytes(content)
    with pytest.raises(StateError) as caught:
        fresh(tmp_path)
    assert isinstance(caught.value, ConfigError)
    message = str(caught.value)
    assert STATE_FILENAME in message and "corrupt" in message and "delete it" in message


def test_journal_is_saved_when_added_and_resolved_against_the_manifest(tmp_path: Path) -> None:
    state = fresh(tmp_path)
    done = Pending("a", "sha-a", 1, "msg", "a.yaml")
    lost = Pending("b", "sha-b", 0, None, "b.yaml")
    state.journal_add([done, lost])
    # Written before anything is sent: a crash now still finds both entries.
    reloaded = fresh(tmp_path)
    assert [p.slug for p in reloaded.journal] == ["a", "b"]
    assert reloaded.journal[0] == done
    left = reloaded.resolve_journal({"a": (2, "sha-a"), "b": (4, "other")})
    assert left == [lost]
    after = fresh(tmp_path)
    assert after.get("a") == Entry(2, "sha-a", "a.yaml")
    assert [p.slug for p in after.journal] == ["b"]


def test_journal_ack_removes_only_the_given_ids(tmp_path: Path) -> None:
    state = fresh(tmp_path)
    items = [Pending(f"p{n}", f"s{n}", 0, None, f"p{n}.yaml") for n in range(3)]
    state.journal_add(items)
    state.journal_ack([items[1].id])
    state.save()
    assert [p.slug for p in fresh(tmp_path).journal] == ["p0", "p2"]


def test_record_keep_previous_then_settle(tmp_path: Path) -> None:
    state = fresh(tmp_path)
    state.record("a", 1, "one", "a.yaml")
    state.record("a", 2, "two", "a.yaml", keep_previous=True)
    state.record("new", 5, "five", "new.yaml", keep_previous=True)
    state.save()
    loaded = fresh(tmp_path)
    assert loaded.get("a") == Entry(2, "two", "a.yaml", (1, "one"))
    assert loaded.get("new") == Entry(5, "five", "new.yaml", (0, ""))
    loaded.settle("a")
    assert loaded.get("a") == Entry(2, "two", "a.yaml")


def test_lock_can_be_taken_again_once_released(tmp_path: Path) -> None:
    state = fresh(tmp_path)
    with state.locked():
        state.record("a", 1, "x", "a.yaml")
        state.save()
    with fresh(tmp_path).locked() as again:
        assert again.get("a") is not None
