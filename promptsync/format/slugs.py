"""Slugs: a prompt's name, from its path under the prompts directory.

``prompts/support/greeting.yaml`` is ``support/greeting``: the path without its extension, at most
8 segments and 200 characters, each segment ``[a-z0-9][a-z0-9._-]*``. The server checks the same
rules, so a name the CLI accepts is never refused there.
"""

from __future__ import annotations

import os
import re

from promptsync.errors import Problem, PromptFileError

EXTENSIONS = (".yaml", ".yml")
MAX_SLUG_SEGMENTS = 8
MAX_SLUG_LENGTH = 200
SLUG_SEGMENT_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


def slug_problem(slug: str) -> str | None:
    """Return None when the slug is valid, else one readable reason."""
    if not slug:
        return "the slug is empty"
    if len(slug) > MAX_SLUG_LENGTH:
        return f"the slug is {len(slug)} characters long; the limit is {MAX_SLUG_LENGTH}"
    segments = slug.split("/")
    if len(segments) > MAX_SLUG_SEGMENTS:
        return f"the slug has {len(segments)} path segments; the limit is {MAX_SLUG_SEGMENTS}"
    for segment in segments:
        if not segment:
            return f"the slug {slug!r} has an empty path segment"
        if not SLUG_SEGMENT_RE.fullmatch(segment):
            return (
                f"the path segment {segment!r} must start with a lowercase letter or digit "
                "and contain only a-z, 0-9, '.', '_' and '-'"
            )
    return None


def slug_for_path(relpath: str) -> str:
    """Turn a path relative to the prompts directory into its slug, or raise PromptFileError."""
    path = relpath.replace(os.sep, "/")
    if os.altsep:
        path = path.replace(os.altsep, "/")
    parts = path.split("/")
    while len(parts) > 1 and parts[0] == ".":  # tolerate "./support/greeting.yaml"
        parts = parts[1:]
    name = parts[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot or "." + ext not in EXTENSIONS:
        reason = "a prompt file name must end in .yaml or .yml"
        if dot and "." + ext.lower() in EXTENSIONS:
            # Name a file that works: capitals in the stem are refused as well (T9.YAML).
            if slug_problem("/".join([*parts[:-1], stem.lower()])) is None:
                reason += f" (lowercase): rename it to {stem.lower()}.{ext.lower()}"
            else:
                reason += f" (lowercase), and {slug_problem('/'.join([*parts[:-1], stem]))}"
    elif path.startswith("/"):
        reason = "the path must be relative to the prompts directory"
    else:
        reason = slug_problem("/".join([*parts[:-1], stem])) or ""
    if reason:
        raise PromptFileError(relpath, [Problem(f"bad file name: {reason}")])
    return "/".join([*parts[:-1], stem])
