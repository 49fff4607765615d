"""Import sources into the prompts dir: read, name, build, write; nothing existing is touched.

Sources are files or folders (read recursively, their sub-folders kept as slug segments). Each
prompt found gets the first free slug of its name (name, name-2, ...); a file is written only
where none exists (linked into place, so a file that appears meanwhile is not overwritten
either), and a file holding the very bytes an import would write counts as already there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from promptsync.errors import ConfigError
from promptsync.format.slugs import slug_problem
from promptsync.format.source import MAX_FILE_BYTES
from promptsync.fsutil import discard_temp, write_temp
from promptsync.importing.build import build
from promptsync.importing.model import (
    FORMATS,
    SUFFIX_FORMATS,
    Found,
    ImportReport,
    Outcome,
    Result,
    Skipped,
)
from promptsync.importing.names import SlugBook, existing_slugs, slug_base
from promptsync.importing.readers import csv_prompts, decode, text_prompt
from promptsync.importing.templated import templated_prompt

MAX_SOURCE_BYTES = 64 * 1024 * 1024  # a CSV of many prompts may be large; one prompt is not


@dataclass(frozen=True)
class ImportOptions:
    """What `promptsync import` was told: the format, a slug prefix, CSV columns, dry run."""

    format: str | None = None
    prefix: str = ""
    name_column: str | None = None
    text_column: str | None = None
    dry_run: bool = False

    def prefix_segments(self) -> tuple[str, ...]:
        """The prefix as slug segments; ConfigError when it is not a valid slug."""
        prefix = self.prefix.strip("/")
        if not prefix:
            return ()
        if (problem := slug_problem(prefix)) is not None:
            raise ConfigError(f"--prefix {self.prefix}: {problem}")
        return tuple(prefix.split("/"))


def _files(source: Path) -> Iterator[tuple[Path, tuple[str, ...]]]:
    """The files of a source with their sub-folders; hidden files and folders are not read."""
    if not source.is_dir():
        yield source, ()
        return
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        folder = Path(dirpath).relative_to(source).parts
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath, name), folder


def read_source(path: Path, origin: str, folder: tuple[str, ...], options: ImportOptions
                ) -> Iterator[Found | Skipped]:
    """The prompts in one source file, in its format."""
    kind = options.format or SUFFIX_FORMATS.get(path.suffix.lower())
    if kind is None:
        yield Skipped(origin, "not a format import reads (.txt, .md, .csv, .prompty, .prompt); "
                              f"--format {'|'.join(FORMATS)} says how to read it")
        return
    try:
        size = path.stat().st_size
        if kind == "csv" and size > MAX_SOURCE_BYTES:  # many prompts: its own limit
            yield Skipped(origin, f"it is {size} bytes; a CSV import reads at most "
                                  f"{MAX_SOURCE_BYTES} bytes: split it")
            return
        if kind != "csv" and size > MAX_FILE_BYTES:
            yield Skipped(origin, f"it is {size} bytes; a prompt file holds at most "
                                  f"{MAX_FILE_BYTES} bytes (256 KiB)")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Skipped(origin, f"cannot read it: {exc.strerror or exc}")
        return
    text = decode(data, origin)
    if isinstance(text, Skipped):
        yield text
        return
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    if kind == "csv":
        for item in csv_prompts(origin, text, stem, options.name_column, options.text_column):
            if isinstance(item, Found):
                item.folder = folder
            yield item
    elif kind in ("prompty", "dotprompt"):
        yield templated_prompt(origin, stem, text, kind, folder)
    else:
        yield text_prompt(origin, stem, text, folder)


def _same_bytes(data: bytes) -> Callable[[Path], bool]:
    def holds(path: Path) -> bool:
        try:
            return path.read_bytes() == data
        except OSError:
            return False
    return holds


def _write_new(path: Path, data: bytes) -> bool:
    """Write a file that does not exist yet; False (and nothing written) when it does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = write_temp(path, data)
    try:
        os.link(temp, path)  # unlike a rename, a link never replaces a file that is there
    except FileExistsError:
        return False
    finally:
        discard_temp(temp)
    return True


def import_sources(sources: list[Path], prompts_dir: Path, options: ImportOptions,
                   display: Callable[[Path], str] = str) -> ImportReport:
    """Import every source into ``prompts_dir``; ``display`` names a source path in origins."""
    prefix = options.prefix_segments()
    book = SlugBook(existing_slugs(prompts_dir) if prompts_dir.is_dir() else {})
    report = ImportReport()
    for source in sources:
        base = display(source)
        for path, folder in _files(source):
            origin = base if path == source else f"{base}/{path.relative_to(source).as_posix()}"
            for item in read_source(path, origin, folder, options):
                report.results.append(_place(item, prefix, book, prompts_dir, options, report))
    return report


def _place(item: Found | Skipped, prefix: tuple[str, ...], book: SlugBook, prompts_dir: Path,
           options: ImportOptions, report: ImportReport) -> Result:
    """Name, build and write one prompt found."""
    if isinstance(item, Skipped):
        return Result(item.origin, Outcome.SKIPPED, reason=item.reason)
    named = slug_base(prefix, item.folder, item.name)
    if isinstance(named, str):
        return Result(item.origin, Outcome.SKIPPED, reason=named)
    base, slugged = named
    data = build(item.fields)
    if isinstance(data, str):
        return Result(item.origin, Outcome.SKIPPED, reason=f"cannot be written exactly: {data}")
    slug, taken, already = book.claim(base, item.origin, _same_bytes(data))
    how = ("transliterated" if slugged.transliterated else
           "named from its hash: nothing in it to keep" if slugged.hashed else None)
    report.transliterated |= slugged.transliterated
    report.hashed |= slugged.hashed
    renamed = "; ".join(p for p in (f"'{item.name}' {how}" if how else None, taken) if p) or None
    path = prompts_dir / f"{slug}.yaml"
    notes = tuple(item.notes)
    if already:
        return Result(item.origin, Outcome.ALREADY_THERE, slug, path, renamed, notes=notes)
    if options.dry_run:
        return Result(item.origin, Outcome.WOULD_IMPORT, slug, path, renamed, notes=notes)
    if not _write_new(path, data):
        return Result(item.origin, Outcome.SKIPPED, slug, path,
                      reason=f"{path.name} appeared while importing; it was left as it is")
    return Result(item.origin, Outcome.IMPORTED, slug, path, renamed, notes=notes)
