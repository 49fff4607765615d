"""Crash-safe file writes shared by the config, the sync state and pull."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def current_umask() -> int:
    """The process umask, without changing it where the platform allows (read once a batch)."""
    # os.umask() can only be read by setting it, which races with other threads creating
    # files; Linux exposes it read-only in /proc, so prefer that.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry so a rename inside it survives a power cut."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every platform lets a directory be opened; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_temp(path: Path, data: bytes, mode: int | None = None, *, umask: int | None = None,
               sync: bool = True) -> str:
    """Write ``data`` to a new temp file beside ``path`` (fsync'd when ``sync``); its name.

    The mode is that of the file it will replace, else 0666 minus the umask (pass ``umask``
    to save reading it for every file of a batch).
    """
    path = Path(path)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777  # keep the permissions of the file we replace
        except FileNotFoundError:
            mode = 0o666 & ~(current_umask() if umask is None else umask)
    # The temp name starts with a dot and ends in .tmp, which the watcher ignores; mkstemp
    # creates it 0600, so a secret is never readable by others even for an instant.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fchmod(tmp.fileno(), mode)
            if sync:
                os.fsync(tmp.fileno())
    except BaseException:
        discard_temp(tmp_name)
        raise
    return tmp_name


def discard_temp(tmp_name: str) -> None:
    """Remove a temp file that will not be renamed into place (gone already is fine)."""
    try:
        os.unlink(tmp_name)
    except FileNotFoundError:
        pass


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new bytes, never a mix."""
    path = Path(path)
    tmp_name = write_temp(path, data, mode)
    try:
        os.replace(tmp_name, path)
    except BaseException:
        discard_temp(tmp_name)
        raise
    _fsync_dir(path.parent)


def fsync_path(path: Path | str) -> None:
    """fsync a file or directory by name; raises OSError when it fails."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dirs(directories: Iterable[Path]) -> None:
    """Flush each directory's entries once (renames inside them survive a power cut)."""
    for directory in directories:
        _fsync_dir(directory)


_SYNCFS: Callable[[int], int] | None | bool = False  # False: not looked up yet


def _syncfs_function() -> Callable[[int], int] | None:
    """libc's syncfs(2), or None where there is none (not Linux, or no C library found)."""
    global _SYNCFS
    if _SYNCFS is False:
        _SYNCFS = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes  # start-up cost: only a large pull on Linux needs it

                libc = ctypes.CDLL(None, use_errno=True)
                function = libc.syncfs
                function.argtypes = [ctypes.c_int]
                function.restype = ctypes.c_int
                _SYNCFS = function
            except (OSError, AttributeError):
                _SYNCFS = None
    return _SYNCFS  # type: ignore[return-value]


def syncfs(directories: Iterable[Path]) -> bool:
    """Flush every filesystem holding one of ``directories`` to disk: one syncfs(2) call per
    filesystem instead of one fsync per file. False (nothing done) where syncfs is missing
    or fails; the caller then fsyncs file by file."""
    function = _syncfs_function()
    if function is None:
        return False
    seen: set[int] = set()
    for directory in directories:
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            return False
        try:
            device = os.fstat(fd).st_dev
            if device in seen:
                continue
            seen.add(device)
            if function(fd) != 0:  # since Linux 5.8 it reports writeback errors
                return False
        finally:
            os.close(fd)
    return True
