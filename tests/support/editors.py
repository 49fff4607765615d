"""How editors save a file, replayed in Python: the writes and renames real editors make."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def in_place(path: Path, text: str) -> None:
    """Overwrite the open file (echo >>, many small tools)."""
    with path.open("r+") as f:
        f.write(text)
        f.truncate()


def truncate_then_write(path: Path, text: str) -> None:
    """Truncate, then write in two parts (VS Code): a reader may see an empty file between."""
    with path.open("w") as f:
        f.write(text[:10])
        f.flush()
        f.write(text[10:])


def os_replace(path: Path, text: str) -> None:
    """Write a temp file beside it, then rename over it (atomic savers)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def jetbrains(path: Path, text: str) -> None:
    """JetBrains' safe write: new temp, old file moved aside, temp renamed in, old deleted."""
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    tmp.write_text(text)
    os.rename(path, old)
    os.rename(tmp, path)
    old.unlink()


def vim_rename(path: Path, text: str) -> None:
    """vim with backupcopy=no: the file is renamed to a backup, written anew, backup deleted."""
    backup = path.with_name(path.name + "~")
    os.rename(path, backup)
    path.write_text(text)
    backup.unlink()


def truncate_close_then_write(path: Path, text: str) -> None:
    """Truncate and close, then reopen and write: a close of the empty file precedes the save's."""
    with path.open("w"):
        pass
    with path.open("a") as f:
        f.write(text)
