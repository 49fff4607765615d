"""The SDK ``Client`` (``from promptsync import Client``): cached prompt fetches for applications.

A pinned version is cached for good (versions never change); a label or the latest is reused for
``ttl`` seconds, then revalidated with its ETag. When the server is unreachable or failing (5xx,
408, 429) the last copy is served, else the copy in an export bundle (``bundle=`` or
PROMPTSYNC_BUNDLE); a 404 or 403 is an answer and is never hidden. A 410 (the prompt was archived)
raises PromptArchived and drops the cached copies of its latest and labels, so an archived prompt
is never served from the cache.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from promptsync.client.api import ApiClient
from promptsync.client.bundle import load_bundle
from promptsync.config import resolve_settings
from promptsync.errors import (
    ApiError,
    BundleError,
    ConfigError,
    PromptArchived,
    ServerUnreachable,
)
from promptsync.format.prompt import Prompt, parse_prompt

__all__ = ["Client", "PromptArchived", "PromptVersion"]

log = logging.getLogger(__name__)

ENV_BUNDLE = "PROMPTSYNC_BUNDLE"


@dataclass(frozen=True)
class PromptVersion:
    """One immutable prompt version as the SDK hands it out."""

    slug: str
    version: int
    sha256: str
    labels: tuple[str, ...]
    source: str
    prompt: Prompt = field(repr=False, compare=False)

    @classmethod
    def from_source(
        cls, slug: str, version: int, sha256: str, labels: Any, source: str
    ) -> PromptVersion:
        """Build from a stored source; parsing it gives the exact render rules of the files."""
        names = tuple(labels) if isinstance(labels, list | tuple) else ()
        prompt = parse_prompt(source, f"{slug} v{version}")
        return cls(slug, version, sha256, names, source, prompt)

    def render(
        self, variables: Mapping[str, object] | None = None, /, **kw: object
    ) -> str | list[dict[str, str]]:
        """Fill the placeholders strictly (one RenderError naming every missing, unknown or
        mistyped variable)."""
        return self.prompt.render(variables, **kw)

    def validate_output(self, value: object) -> object:
        """A model's answer checked against the prompt's output_schema (text is read as JSON):
        the value when it fits, OutputInvalid naming every problem otherwise."""
        return self.prompt.validate_output(value)


@dataclass(frozen=True)
class _Entry:
    value: PromptVersion
    checked_at: float


def _is_outage(exc: Exception) -> bool:
    """True for failures a cached copy should paper over: unreachable, 5xx, rate limits."""
    if isinstance(exc, ServerUnreachable):
        return True
    return isinstance(exc, ApiError) and (exc.status >= 500 or exc.status in (408, 429))


class Client:
    """Fetch prompts by slug, version or label, with caching and offline fallbacks."""

    def __init__(
        self,
        server: str | None = None,
        api_key: str | None = None,
        project: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 5.0,
        ttl: float = 30.0,
        bundle: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = resolve_settings(server, project, api_key)
        if settings.server is None:
            raise ConfigError(
                "no server configured: pass Client(server=...), set PROMPTSYNC_SERVER "
                "or run inside a repository with promptsync.yaml"
            )
        self.server = settings.server
        self.project = settings.project
        self.ttl = ttl
        bundle = bundle or os.environ.get(ENV_BUNDLE) or None
        self.bundle_path = Path(bundle) if bundle else None
        self._clock = clock
        self._api = ApiClient(
            settings.server, settings.api_key, transport=transport, timeout=timeout
        )
        self._lock = threading.Lock()
        self._pinned: dict[tuple[str, int], PromptVersion] = {}
        self._moving: dict[tuple[str, str | None], _Entry] = {}
        self._bundle: dict[str, Any] | None = None

    def get(self, slug: str, version: int | None = None, label: str | None = None) -> PromptVersion:
        """A version by number, by label, or the latest; served from cache when allowed."""
        if version is not None and label is not None:
            raise ValueError("pass version or label, not both")
        if version is not None:
            return self._get_pinned(slug, version)
        return self._get_moving(slug, label)

    def _get_pinned(self, slug: str, version: int) -> PromptVersion:
        with self._lock:
            hit = self._pinned.get((slug, version))
        if hit is not None:
            return hit  # versions are immutable: no revalidation ever
        try:
            data = self._api.get_version(self.project, slug, version=version)
        except (ServerUnreachable, ApiError) as exc:
            if not _is_outage(exc):
                raise
            fallback = self._from_bundle(slug, version, None, exc)
            if fallback is None:
                raise
            return fallback
        value = self._build(data)
        with self._lock:
            self._pinned[(slug, value.version)] = value
        return value

    def _get_moving(self, slug: str, label: str | None) -> PromptVersion:
        key = (slug, label)
        now = self._clock()
        with self._lock:
            entry = self._moving.get(key)
        if entry is not None and now - entry.checked_at < self.ttl:
            return entry.value
        etag = entry.value.sha256 if entry is not None else None
        try:
            data = self._api.get_version(self.project, slug, label=label, etag=etag)
        except (ServerUnreachable, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status == 410:
                self._forget_moving(slug)
                raise PromptArchived(exc.status, exc.code, exc.detail, exc.body) from exc
            if not _is_outage(exc):
                raise  # a 404 or 403 is an answer, not an outage: never hide it
            if entry is not None:
                log.warning("promptsync: %s; serving cached %s v%d", exc, slug, entry.value.version)
                with self._lock:
                    # Back off for one TTL so a dead server does not cost a timeout per call.
                    self._moving[key] = _Entry(entry.value, now)
                return entry.value
            fallback = self._from_bundle(slug, None, label, exc)
            if fallback is None:
                raise
            return fallback
        if data is None:
            if entry is None:  # 304 without our ETag: a broken proxy; nothing to reuse
                raise ApiError(304, "bad_response", f"unexpected 304 for {slug}")
            value = entry.value
        else:
            value = self._build(data)
        with self._lock:
            self._moving[key] = _Entry(value, now)
            self._pinned.setdefault((slug, value.version), value)
        return value

    def _forget_moving(self, slug: str) -> None:
        """Drop the cached latest and labels of slug (versions by number stay: they answer)."""
        with self._lock:
            for key in [key for key in self._moving if key[0] == slug]:
                del self._moving[key]

    @staticmethod
    def _build(data: dict[str, Any] | None) -> PromptVersion:
        if data is None:
            raise ApiError(304, "bad_response", "unexpected 304 for an unconditional fetch")
        try:
            return PromptVersion.from_source(
                data["slug"], data["version"], data["sha256"], data.get("labels"), data["source"]
            )
        except KeyError as exc:
            raise ApiError(200, "bad_response", f"version JSON lacks {exc}") from None

    def _from_bundle(
        self, slug: str, version: int | None, label: str | None, cause: Exception
    ) -> PromptVersion | None:
        """The bundle's copy when it matches the request, else None."""
        if self.bundle_path is None:
            return None
        with self._lock:
            bundle = self._bundle
        if bundle is None:
            try:
                bundle = load_bundle(self.bundle_path)
            except BundleError as exc:
                raise BundleError(f"{cause}; and the fallback {exc}") from cause
            if self.project and bundle.get("project") not in (None, self.project):
                raise BundleError(
                    f"{cause}; and the fallback bundle {self.bundle_path} is for project "
                    f"{bundle.get('project')!r}, not {self.project!r}"
                ) from cause
            with self._lock:
                self._bundle = bundle
        entry = bundle["prompts"].get(slug)
        if entry is None:
            return None
        if version is not None:
            matches = entry["version"] == version
        elif label is not None:
            matches = bundle.get("label") == label or label in entry["labels"]
        else:
            matches = bundle.get("label") is None  # a labelled bundle is not "latest"
        if not matches:
            return None
        log.warning(
            "promptsync: %s; serving %s v%d from %s",
            cause,
            slug,
            entry["version"],
            self.bundle_path,
        )
        return PromptVersion.from_source(
            slug, entry["version"], entry["sha256"], entry["labels"], entry["source"]
        )

    def clear_cache(self) -> None:
        """Forget every cached version and the loaded bundle."""
        with self._lock:
            self._pinned.clear()
            self._moving.clear()
            self._bundle = None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
