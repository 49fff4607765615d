"""Find the prompt files under the prompts dir and hash their bytes; no parsing, no network."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from promptsync.errors import ConfigError, Problem, PromptFileError
from promptsync.format.prompt import MAX_FILE_BYTES, slug_for_path, source_sha256
from promptsync.sync.tree import walk_relative


@dataclass(frozen=True)
class LocalFile:
    """One prompt file on disk: its slug, where it is, its hash and its bytes."""

    slug: str
    relpath: str  # relative to the prompts dir, posix
    path: Path  # absolute
    sha256: str
    data: bytes = field(repr=False, compare=False)


@dataclass(frozen=True)
class BadFile:
    """A file that cannot be a prompt (bad name, symlink, unreadable, two files for one slug)."""

    relpath: str
    path: Path
    problems: tuple[Problem, ...]
    slug: str | None = None


@dataclass
class Scan:
    """The prompt files found, by slug, and the files that cannot be synced."""

    files: dict[str, LocalFile] = field(default_factory=dict)
    bad: list[BadFile] = field(default_factory=list)


@dataclass(frozen=True)
class Selection:
    """The slugs a command was limited to by PATH arguments; empty means everything."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    everything: bool = True

    def __contains__(self, slug: object) -> bool:
        if self.everything:
            return True
        return isinstance(slug, str) and (
            slug in self.exact or any(slug.startswith(p) for p in self.prefixes)
        )


def read_prompt_file(path: Path | str) -> bytes:
    """Read a regular file without following a symlink; at most 256 KiB + 1 bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
        # One byte over the limit is enough for the parser to report "too large".
        first = os.read(fd, MAX_FILE_BYTES + 1)
        if len(first) == info.st_size or len(first) > MAX_FILE_BYTES:
            return first  # the usual case: one read, no second call to see the end
        chunks, size = [first], len(first)
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_file(root: Path, path: Path, relpath: str | None = None) -> LocalFile | BadFile:
    """Hash one file under ``root``; a BadFile when its name, type or bytes rule it out."""
    if relpath is None:
        relpath = path.relative_to(root).as_posix()
    try:
        slug = slug_for_path(relpath)
    except PromptFileError as exc:
        return BadFile(relpath, path, tuple(exc.problems))
    try:
        data = read_prompt_file(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            problem = Problem("symbolic links are not synced; make it a regular file")
        else:
            problem = Problem(f"cannot read the file: {exc.strerror or exc}")
        return BadFile(relpath, path, (problem,), slug)
    return LocalFile(slug, relpath, path, source_sha256(data), data)


def select(root: Path, paths: Iterable[str | Path]) -> tuple[Selection, list[Path]]:
    """Turn PATH arguments into a slug selection and the directories/files to scan."""
    root = root.resolve()
    exact: set[str] = set()
    prefixes: list[str] = []
    targets: list[Path] = []
    for raw in paths:
        path = Path(os.path.abspath(raw))
        # Resolve the parent only: the file itself may be a symlink we must report, not follow.
        path = path.parent.resolve() / path.name if path.name else path.resolve()
        if path == root:
            return Selection(), [root]
        try:
            relative = path.relative_to(root).as_posix()
        except ValueError:
            raise ConfigError(f"{raw} is outside the prompts directory {root}") from None
        if path.is_dir() and not path.is_symlink():
            prefixes.append(relative + "/")
            targets.append(path)
        else:
            try:
                exact.add(slug_for_path(relative))
            except PromptFileError as exc:
                raise ConfigError(f"{raw}: {exc.problems[0].message}") from None
            targets.append(path)
    return Selection(frozenset(exact), tuple(prefixes), everything=False), targets


def scan(root: Path, paths: Iterable[str | Path] | None = None) -> tuple[Scan, Selection]:
    """Scan the prompts dir (or only ``paths`` below it) and hash every prompt file."""
    root = root.resolve()
    selection, targets = select(root, paths) if paths else (Selection(), [root])
    result = Scan()
    found: dict[Path, str | None] = {}
    for target in targets:
        if target.is_dir() and not target.is_symlink():
            found.update(walk_relative(target, root))
        elif target.exists() or target.is_symlink():
            found[target] = None
    by_slug: dict[str, list[LocalFile]] = {}
    for path, relpath in found.items():
        item = load_file(root, path, relpath)
        if isinstance(item, BadFile):
            result.bad.append(item)
        else:
            by_slug.setdefault(item.slug, []).append(item)
    for slug, items in by_slug.items():
        if len(items) == 1:
            result.files[slug] = items[0]
            continue
        names = " and ".join(i.relpath for i in items)
        for item in items:  # a.yaml and a.yml: refuse both rather than guess which one wins
            problem = Problem(f"{names} both define the prompt '{slug}'; keep one of them")
            result.bad.append(BadFile(item.relpath, item.path, (problem,), slug))
    return result, selection
