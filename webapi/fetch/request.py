"""The one parser of a key fetch, from the WSGI environ: the middleware and the Flask view both
call parse_fetch, so what counts as a plain fetch is decided in one place.

Plain means: GET of an ASCII path /api/v1/[projects/{p}/]prompts/{slug} with a valid slug, no
query or exactly one `version=N` (1..MAX_VERSION) or `label=L` (unencoded), no If-None-Match or
one strong ETag, and a key in X-API-Key or Authorization: Bearer. Anything else (weak or several
ETags, percent-encoded or extra arguments, a malformed one) is left to the general path, which
reads it with werkzeug's parsers and words its errors.
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
_QUERY = re.compile(r"(?:version=([0-9]{1,10})|label=([A-Za-z0-9._-]{1,100}))?")
_ETAG = re.compile(r'"([0-9a-f]{64})"')


@dataclass(slots=True)  # not frozen: that costs ~1 µs per instance, on every fetch
class FetchRequest:
    """GET one prompt version with an API key, in its plain form."""

    key: str
    project_slug: str | None  # None: the /prompts/{slug} shorthand, the key's own project
    slug: str
    version: int | None  # ?version=N; None with ?label= or for the latest
    label: str | None
    etag: str | None  # the hash in a single strong If-None-Match, or None without one

    @property
    def pinned(self) -> bool:
        """A fetch by number: its answer never changes, so it may be cached for good."""
        return self.version is not None


def parse_fetch(environ: Mapping[str, Any]) -> FetchRequest | None:
    """The plain key fetch this request is, or None when it is anything else."""
    path: str = environ.get("PATH_INFO", "")
    if (environ["REQUEST_METHOD"] != "GET" or not path.startswith(PREFIX)
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
    etag = None
    if "HTTP_IF_NONE_MATCH" in environ:
        tag = _ETAG.fullmatch(environ["HTTP_IF_NONE_MATCH"].strip())
        if tag is None:
            return None  # weak, several or '*': werkzeug's parser decides those
        etag = tag.group(1)
    key = key_in_environ(environ)
    if not key:
        return None
    return FetchRequest(key, project_slug, slug, version, label, etag)
