"""A fetched version's partials resolved at fetch time (SPEC §13): the version of each included
prompt the answer stands for (``includes: [{slug, ref, version}]``) and an ETag that changes
when any of them does. Both fetch paths call it, each with its own way to read a version's
number, hash and partials (the key-scoped or the project-scoped hash-only statement); a version
without partials never gets here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from promptsync.format.partials import MAX_DEPTH
from webapi.services.versions import FetchedVersion

# (slug, version, label) -> the version's number, hash and partials, or None when it has none.
Read = Callable[[str, int | None, str | None], FetchedVersion | None]


def with_includes(found: FetchedVersion, slug: str, label: str | None, read: Read
                  ) -> FetchedVersion:
    """``found`` with its includes resolved and the ETag covering them."""
    resolved: dict[tuple[str, str], dict[str, Any]] = {}
    parts: list[str] = []
    _walk(found.partials or [], [slug], label, read, resolved, parts)
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return found._replace(includes=list(resolved.values()), etag=f"{found.sha256}-{digest}")


def _walk(partials: list[dict[str, Any]], chain: list[str], label: str | None, read: Read,
          resolved: dict[tuple[str, str], dict[str, Any]], parts: list[str]) -> None:
    for written in partials:
        slug, version, own_label = written["slug"], written.get("version"), written.get("label")
        target: FetchedVersion | None = None
        if version is not None or own_label is not None:
            ref = str(version) if version is not None else str(own_label)
            target = read(slug, version, own_label)
        else:
            ref = "latest"
            if label is not None:
                target = read(slug, None, label)
                ref = label if target is not None else ref
            if target is None:
                target = read(slug, None, None)
        if (slug, ref) in resolved:
            continue
        # A cycle or a missing target was refused at push; one made since (a label removed,
        # a prompt archived with force) shows as version null rather than failing the fetch.
        number = target.version if target is not None else None
        resolved[slug, ref] = {"slug": slug, "ref": ref, "version": number}
        parts.append(f"{slug}@{ref}={number}:{target.sha256 if target is not None else ''}")
        if (target is not None and target.partials and slug not in chain
                and len(chain) <= MAX_DEPTH):
            _walk(target.partials, [*chain, slug], label, read, resolved, parts)
