"""Tests for promptsync.sync.scan: which files are prompts, their hashes, and what is refused."""

from __future__ import annotations

from pathlib import Path

from promptsync.format.prompt import source_sha256
from promptsync.sync.plan import Status, make_plan
from promptsync.sync.scan import Scan, scan
from tests.support.live import write_files


def test_scan_skips_editor_noise_and_reports_bad_files(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    write_files(root, {
        "support/greeting.yaml": "x", "support/.greeting.yaml.swp": "x", "support/a.yaml~": "x",
        ".#lock.yaml": "x", "4913": "x", "notes.txt": "x", ".git/x.yaml": "x",
        ".hidden/y.yaml": "x", "tmp.yaml.tmp": "x", "Bad Name.yaml": "x",
        "dup.yaml": "1", "dup.yml": "2", "ok.yml": "x",
    })
    (root / "link.yaml").symlink_to(root / "ok.yml")
    scanned, selection = scan(root)
    assert selection.everything
    assert sorted(scanned.files) == ["ok", "support/greeting"]
    assert scanned.files["ok"].sha256 == source_sha256(b"x")
    bad = {b.relpath: b.problems[0].message for b in scanned.bad}
    assert set(bad) == {"Bad Name.yaml", "dup.yaml", "dup.yml", "link.yaml"}
    assert "symbolic link" in bad["link.yaml"]
    assert "both define" in bad["dup.yml"]


def test_hash_ignores_newline_style(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    write_files(root, {"a.yaml": b"x: 1\r\ny: 2\r\n", "b.yaml": b"x: 1\ny: 2\n"})
    files = scan(root)[0].files
    assert files["a"].sha256 == files["b"].sha256


def test_a_huge_file_is_read_only_up_to_the_limit_and_reported(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    write_files(root, {"big.yaml": b"template: " + b"x" * (300 * 1024) + b"\n"})
    files = scan(root)[0].files
    assert len(files["big"].data) == 256 * 1024 + 1
    plan = make_plan(Scan(files=files), {}, {})
    assert plan.actions[0].status == Status.INVALID
    assert "256 KiB" in plan.actions[0].problems[0].message
