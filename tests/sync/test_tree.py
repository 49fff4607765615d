"""Tests for promptsync.sync.tree: the editor-noise table, and the scanner and the watcher
agreeing on what a prompt file is."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsync.sync.tree import is_ignored, walk

ROOT = Path("/r/prompts")


@pytest.mark.parametrize(
    "rel",
    [
        ".a.yaml.swp",
        ".a.yaml.swo",
        ".a.yaml.swx",
        "4913",
        "a.yaml~",
        ".#a.yaml",
        "#a.yaml#",
        "a.yaml___jb_tmp___",
        "a.yaml___jb_old___",
        ".goutputstream-Q1W2E3",
        ".a.yaml.k2j3h4.tmp",
        "a.tmp",
        "sedAb12Cd",
        "a.json",
        "README.md",
        "a.yaml.bak",
        "a.yaml.orig",
        "sub/.a.yaml.swp",
        "sub/.#b.yml",
        ".git/a.yaml",
        ".git/refs/heads/main",
        ".idea/workspace.yaml",
        ".vscode/settings.yml",
        ".promptsync/state.yaml",
        "support/.git/x.yaml",
        ".github/ci.yaml",
        "#notes.yaml",
        "",  # the root itself
    ],
)
def test_is_ignored_drops_temps_backups_tool_dirs_and_other_files(rel: str) -> None:
    assert is_ignored(ROOT / rel, ROOT)


@pytest.mark.parametrize(
    "rel", ["a.yaml", "a.yml", "support/greeting.yaml", "a/b/c/d.yml", "bad name.yaml", "X.yaml",
            "a.YAML", "b.Yml", ".hidden.yaml"]
)
def test_is_ignored_keeps_prompt_files_even_with_bad_slugs(rel: str) -> None:
    # Bad slugs (an extension in another case, a hidden name) are the sync engine's to report,
    # so they must reach it: lint and status never skip them in silence.
    assert not is_ignored(ROOT / rel, ROOT)


def test_the_watcher_and_the_scanner_agree_on_what_is_a_prompt_file(tmp_path: Path) -> None:
    # The watcher filters events with is_ignored; the scanner (and the watcher, for a directory
    # that appears) lists files with walk: an event must never name a file the scan skips.
    names = ["a.yaml", "b.yml", "sub/c.yaml", ".git/d.yaml", ".idea/e.yaml", "sub/.f.yaml.swp"]
    names += [".#a.yaml", "#a.yaml#", "a.yaml~", "4913", "a.yaml___jb_tmp___", ".a.yaml.x.tmp"]
    names += ["x.json", ".hidden.yaml", "Bad Name.yaml", "Upper.YAML"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    walked = set(walk(tmp_path))
    files = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert walked == {p for p in files if not is_ignored(p, tmp_path)}
    assert {p.relative_to(tmp_path).as_posix() for p in walked} == {
        "a.yaml",
        "b.yml",
        "sub/c.yaml",
        "Bad Name.yaml",
        ".hidden.yaml",
        "Upper.YAML",
    }


def test_is_ignored_drops_paths_outside_root() -> None:
    assert is_ignored(Path("/r/other/a.yaml"), ROOT)
    assert is_ignored("/r/prompts-old/a.yaml", str(ROOT))
