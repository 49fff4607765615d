"""Which files are prompt files: the one rule the scanner and the watcher share; no parsing."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

from promptsync.format.prompt import EXTENSIONS

# Dot-directories (.git, .idea, .vscode, .promptsync, ...) are never prompts, nor are emacs
# locks and auto-saves (".#a.yaml", "#a.yaml#"). A hidden file ending in .yaml is listed, so
# that lint and status report its name rather than skip it in silence (vim swap files and our
# own atomic-write temps end in something else).
IGNORED_PREFIXES = ("#", ".#")
# Temp files and backups that editors create beside the file they save, as observed with vim,
# neovim, emacs, JetBrains IDEs, gedit and sed -i (their event sequences are replayed in
# tests/watch/test_watcher.py); most are caught by the prefix or suffix rule too, and are listed
# so that the table stays the reference.
IGNORED_NAMES = (
    ".*.sw?",  # vim/neovim swap files: .a.yaml.swp, .swo, .swx
    "4913",  # vim's "can I create files here" probe
    "*~",  # vim/emacs backups
    ".#*",  # emacs lock files (dangling symlinks)
    "#*#",  # emacs auto-save files
    "*___jb_tmp___",  # JetBrains safe write
    "*___jb_old___",
    ".goutputstream-*",  # gedit / GIO
    "*.tmp",
)


def is_prompt_name(name: str) -> bool:
    """Whether a file name looks like a prompt file (not a temp file or a backup).

    The extension in any case: "a.YAML" is no valid prompt name, and is listed so that the
    sync engine reports it (slugs.slug_for_path says why) instead of skipping it in silence.
    """
    return name.lower().endswith(EXTENSIONS) and not name.startswith(IGNORED_PREFIXES)


def is_ignored(path: Path | str, root: Path | str) -> bool:
    """Tell whether a path is anything but a prompt file below root: temps, tool dirs, others."""
    try:
        parts = Path(path).relative_to(root).parts
    except ValueError:
        return True
    if not parts or any(part.startswith(".") for part in parts[:-1]):
        return True
    name = parts[-1]
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_NAMES):
        return True
    return not is_prompt_name(name)


def is_ignored_dir(path: Path | str, root: Path | str) -> bool:
    """Tell whether a directory is outside root or is, or is inside, a dot-directory."""
    try:
        parts = Path(path).relative_to(root).parts
    except ValueError:
        return True
    return any(part.startswith(".") for part in parts)


def walk(directory: Path) -> Iterator[Path]:
    """Prompt-looking files below ``directory``: dot-dirs skipped, symlinked dirs not followed."""
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if is_prompt_name(name):
                yield Path(dirpath, name)


def walk_relative(directory: Path, root: Path) -> Iterator[tuple[Path, str]]:
    """Like walk, with each path relative to ``root`` built from strings (5,000 files: fast)."""
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        prefix = dirpath[len(base) + 1:].replace(os.sep, "/")
        for name in sorted(filenames):
            if is_prompt_name(name):
                yield Path(dirpath, name), f"{prefix}/{name}" if prefix else name
