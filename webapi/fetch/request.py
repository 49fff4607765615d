"""The one parser of a key fetch, from the WSGI environ: the middleware and the Flask view both
call parse_fetch, so what counts as a plain fetch is decided in one place.

Plain means: GET or HEAD of an ASCII path /api/v1/[projects/{p}/]prompts/{slug} with a valid
slug, no query or exactly one `version=N` (1..MAX_VERSION) or `label=L` (unencoded), and a key in
X-API-Key or Authorization: Bearer. Anything else (percent-encoded or extra arguments, a malformed
one) is left to the general path, which reads it with werkzeug's parsers and words its errors.
If-None-Match is judged by etag_matches, here and in the general path alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptsync.format.prompt import slug_problem
from webapi.auth.keys import key_in_environ

PREFIX = "/api/v1/"
MAX_VERSION = 2**31 - 1  # the INTEGER column; a larger number is the general path's 400
_PATH = re.compile(r"(?:projects/([^/]+)/)?prompts/(.+)")
_METHODS = ("GET", "HEAD")  # HEAD is GET without the body (RFC 9110 §9.3.2)
_QUERY = re.compile(r"(?:version=([0-9]{1,10})|label=([A-Za-z0-9._-]{1,100}))?")


@dataclass(slots=True)  # not frozen: that costs ~1 µs per instance, on every fetch
class FetchRequest:
    """GET one prompt version with an API key, in its plain form."""

    key: str
    project_slug: str | None  # None: the /prompts/{slug} shorthand, the key's own project
    slug: str
    version: int | None  # ?version=N; None with ?label= or for the latest
    label: str | None
    if_none_match: str | None  # the header as sent, or None without one

    @property
    def pinned(self) -> bool:
        """A fetch by number: its answer never changes, so it may be cached for good."""
        return self.version is not None


def parse_fetch(environ: Mapping[str, Any]) -> FetchRequest | None:
    """The plain key fetch this request is, or None when it is anything else."""
    path: str = environ.get("PATH_INFO", "")
    if (environ["REQUEST_METHOD"] not in _METHODS or not path.startswith(PREFIX)
            or not path.isascii() or "\x00" in path):
        return None
    matched = _PATH.fullmatch(path, len(PREFIX))
    query = _QUERY.fullmatch(environ.get("QUERY_STRING", ""))
    if matched is None or query is None:
        return None
    project_slug, slug = matched.groups()
    raw_version, label = query.groups()
    version = int(raw_version) if raw_version is not None else None
    if (version is not None and not 1 <= version <= MAX_VERSION) or slug_problem(slug) is not None:
        return None
    key = key_in_environ(environ)
    if not key:
        return None
    return FetchRequest(key, project_slug, slug, version, label,
                        environ.get("HTTP_IF_NONE_MATCH"))


def etag_matches(if_none_match: str, sha256: str) -> bool:
    """Whether an If-None-Match header matches the ETag "<sha256>" (RFC 9110 §13.1.2: `*`, or
    any entity-tag of its list by the weak comparison, so W/"<sha256>" matches too)."""
    etag = f'"{sha256}"'
    header = if_none_match.strip()
    if header == etag or header == "*":
        return True
    # Splitting at commas is safe: an opaque-tag holds no '"', so no piece of a tag holding a
    # comma can read as a whole quoted hash.
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))
