"""Names to slugs: lowercased, non-ASCII transliterated, collisions given a -2, -3 ... suffix.

Transliteration is anyascii's (ISC license, maintained, pure Python): "Переводчик" becomes
"perevodchik", "你好" "nihao". A name with nothing to keep (only punctuation, say) is named from
its hash, which is stable: importing the same source again gives the same slug.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from anyascii import anyascii

from promptsync.format.slugs import EXTENSIONS, MAX_SLUG_LENGTH, MAX_SLUG_SEGMENTS

MAX_NAME = 80  # a segment made from a name; long titles are cut here (at a word where possible)
_SUFFIX_ROOM = 4  # for "-2" ... "-999"
_NOT_SLUG_RE = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class Slugged:
    """A name made into a slug segment, and how, when it took more than lowercasing."""

    segment: str
    transliterated: bool = False
    hashed: bool = False


def slug_segment(name: str, limit: int = MAX_NAME) -> Slugged:
    """A valid slug segment (``[a-z0-9][a-z0-9._-]*``) for a name, at most ``limit`` long."""
    ascii_name = anyascii(name)
    segment = _NOT_SLUG_RE.sub("-", ascii_name.lower())
    segment = re.sub(r"-{2,}", "-", segment).strip("-._")
    if len(segment) > limit:
        cut = segment[:limit]
        segment = (cut.rsplit("-", 1)[0] if "-" in cut[limit // 2:] else cut).rstrip("-._")
    if not segment:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        return Slugged(f"prompt-{digest[:8]}", hashed=True)
    return Slugged(segment, transliterated=ascii_name != name)


def existing_slugs(directory: Path) -> dict[str, Path]:
    """Every prompt-like file below ``directory`` by its slug, lowercased (a case-insensitive
    disk holds a.yaml and A.yaml as one file): these names are taken."""
    taken: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            stem, dot, ext = name.rpartition(".")
            if dot and "." + ext.lower() in EXTENSIONS:
                relative = Path(dirpath, stem).relative_to(directory).as_posix()
                taken.setdefault(relative.lower(), Path(dirpath, name))
    return taken


class SlugBook:
    """Hands out slugs: never one taken by a file on disk or by an earlier prompt of the import."""

    def __init__(self, on_disk: dict[str, Path]) -> None:
        self.on_disk = on_disk
        self.claimed: dict[str, str] = {}  # slug -> the origin that took it

    def claim(self, base: str, origin: str, holds_same: Callable[[Path], bool]
              ) -> tuple[str, str | None, bool]:
        """(slug, why it is not ``base``, already there): the first free of base, base-2, ...

        A file on disk that holds the very bytes being imported is this import done before:
        its slug is returned with True, and nothing needs writing.
        """
        why = None
        number = 1
        while True:
            slug = base if number == 1 else f"{base}-{number}"
            key = slug.lower()
            if key in self.claimed:
                why = why or f"'{base}' is taken by {self.claimed[key]}"
            elif key in self.on_disk:
                path = self.on_disk[key]
                if holds_same(path):
                    self.claimed[key] = origin
                    return slug, why, True
                why = why or f"'{base}' is taken by the existing {path.name}"
            else:
                self.claimed[key] = origin
                return slug, why, False
            number += 1


def slug_base(prefix: tuple[str, ...], folder: tuple[str, ...], name: str
              ) -> tuple[str, Slugged] | str:
    """The slug before collisions: prefix, folders and name as segments; or why there is none."""
    parts = [*prefix]
    for part in folder:
        parts.append(slug_segment(part).segment)
    if len(parts) + 1 > MAX_SLUG_SEGMENTS:
        return (f"it would be {len(parts) + 1} folders deep; a slug has at most "
                f"{MAX_SLUG_SEGMENTS} segments (import the folder itself, or use --prefix)")
    room = MAX_SLUG_LENGTH - sum(len(p) + 1 for p in parts) - _SUFFIX_ROOM
    if room < 8:
        return f"its folders leave no room for a name within {MAX_SLUG_LENGTH} characters"
    named = slug_segment(name, min(MAX_NAME, room))
    return "/".join([*parts, named.segment]), named
