"""Tests for promptsync.client.bundle: round trip, manifest input, and refusing tampered bundles."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptsync.client.bundle import BUNDLE_FORMAT, load_bundle, write_bundle
from promptsync.errors import BundleError
from promptsync.format.prompt import source_sha256
from tests.support.fakes import CHAT, GREETING_V1, make_bundle

# --- bundles ----------------------------------------------------------------------------------


def test_bundle_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    make_bundle(path)
    data = load_bundle(path)
    assert data["format"] == BUNDLE_FORMAT == "promptsync-bundle/1"
    assert (data["project"], data["label"]) == ("demo", "production")
    assert data["exported_at"].endswith("Z")
    assert data["prompts"]["support/greeting"] == {
        "version": 1,
        "sha256": source_sha256(GREETING_V1),
        "source": GREETING_V1,
        "labels": ["production"],
    }
    assert list(data["prompts"]) == ["chat", "support/greeting"]


def test_write_bundle_accepts_manifest_entries_and_checks_hashes(tmp_path: Path) -> None:
    entry = {
        "slug": "a",
        "version": 2,
        "sha256": source_sha256(CHAT),
        "labels": {"production": 2, "staging": 3},
        "source": CHAT,
        "updated_at": "2025-01-01T00:00:00Z",
    }
    write_bundle(tmp_path / "b.json", "demo", None, [entry])
    assert load_bundle(tmp_path / "b.json")["prompts"]["a"]["labels"] == ["production"]
    with pytest.raises(BundleError, match="does not match its sha256"):
        write_bundle(tmp_path / "c.json", "demo", None, [{**entry, "sha256": "0" * 64}])
    with pytest.raises(BundleError, match="source needed"):
        write_bundle(tmp_path / "c.json", "demo", None, [{"slug": "a", "version": 1}])
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["prompts"]["chat"].update(source=CHAT + "# edited\n"), "does not match"),
        (lambda d: d.update(format="promptsync-bundle/9"), "expected format"),
        (lambda d: d.update(prompts=[]), "'prompts' must be an object"),
        (lambda d: d["prompts"]["chat"].pop("sha256"), "entry 'chat' is malformed"),
    ],
)
def test_tampered_bundle_is_refused(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], Any], message: str
) -> None:
    path = tmp_path / "bundle.json"
    make_bundle(path)
    data = json.loads(path.read_text())
    mutate(data)
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


def test_unreadable_bundles(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_bytes(b'{"format": "promptsync-bun')
    with pytest.raises(BundleError, match="unreadable"):
        load_bundle(tmp_path / "bad.json")
