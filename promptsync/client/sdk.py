"""The SDK ``Client`` (``from promptsync import Client``): cached prompt fetches for applications.

A pinned version is cached for good (versions never change); a label or the latest is reused for
``ttl`` seconds, then revalidated with its ETag. When the server is unreachable or failing (5xx,
408, 429) the last copy is served, else the copy in an export bundle (``bundle=`` or
PROMPTSYNC_BUNDLE; client/offline.py); a 404 or 403 is an answer and is never hidden. A 410 (the
prompt was archived) raises PromptArchived and drops the cached copies of its latest and labels,
so an archived prompt is never served from the cache.

With ``live=True`` (SPEC §12) one background stream (client/live.py) tells the client of every
change: a cached latest or label is refetched when an event names its slug, and is served from
memory with no request while the stream is up; while it is down the TTL rule above applies.
A stream the server refuses (a revoked key) sets ``live_error``, and every cached copy is asked
for again by its next get(), which raises the server's answer: a refusal is not an outage.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from promptsync.client.api import ApiClient
from promptsync.client.live import LiveStream, changed_slugs
from promptsync.client.offline import ENV_BUNDLE, BundleFallback, is_outage
from promptsync.client.sse import SseEvent
from promptsync.client.transport import segment
from promptsync.client.version import PromptVersion
from promptsync.config import resolve_settings
from promptsync.errors import (
    ApiError,
    BundleError,
    ConfigError,
    PromptArchived,
    ServerUnreachable,
)

__all__ = ["Client", "PromptArchived", "PromptVersion"]

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class _Entry:
    value: PromptVersion
    checked_at: float
    stamp: tuple[int, int] = (-1, -1)  # (stream generation, slug's event count) when asked


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
        live: bool = False,
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
        self._fallback = BundleFallback(self.bundle_path, self.project)
        self._clock = clock
        self._api = ApiClient(
            settings.server, settings.api_key, transport=transport, timeout=timeout
        )
        self._lock = threading.Lock()
        self._pinned: dict[tuple[str, int], PromptVersion] = {}
        self._moving: dict[tuple[str, str | None], _Entry] = {}
        self._live: LiveStream | None = None
        self._live_up = False
        self._live_error: ApiError | None = None
        self._generation = 0  # grows when the stream comes up without a replay of what it missed
        self._seen: dict[str, int] = {}  # events naming each slug, counted
        if live:
            self._live = self._open_stream(timeout)

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
            if not is_outage(exc):
                raise
            fallback = self._fallback.find(slug, version, None, exc)
            if fallback is None:
                raise
            return fallback
        value = self._resolved(self._build(data), data, None)
        if not value.includes:  # an includer's partials may move: fetched again each time
            with self._lock:
                self._pinned[(slug, value.version)] = value
        return value

    def _get_moving(self, slug: str, label: str | None) -> PromptVersion:
        key = (slug, label)
        now = self._clock()
        with self._lock:
            entry = self._moving.get(key)
            fresh = entry is not None and (
                now - entry.checked_at < self.ttl or self._live_fresh(slug, entry))
        if entry is not None and fresh:
            return entry.value
        return self._fetch_moving(key, entry, now)

    def _fetch_moving(self, key: tuple[str, str | None], entry: _Entry | None,
                      now: float) -> PromptVersion:
        """Ask the server (with the cached copy's ETag) and cache the answer."""
        slug, label = key
        with self._lock:
            stamp = self._stamp(slug)  # before asking: an event during the request outdates it
        etag = entry.value.sha256 if entry is not None else None
        try:
            data = self._api.get_version(self.project, slug, label=label, etag=etag)
        except (ServerUnreachable, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status == 410:
                self._forget_moving(slug)
                raise PromptArchived(exc.status, exc.code, exc.detail, exc.body) from exc
            if not is_outage(exc):
                raise  # a 404 or 403 is an answer, not an outage: never hide it
            if entry is not None:
                log.warning("promptsync: %s; serving cached %s v%d", exc, slug, entry.value.version)
                with self._lock:
                    # Back off for one TTL so a dead server does not cost a timeout per call.
                    self._moving[key] = _Entry(entry.value, now)
                return entry.value
            fallback = self._fallback.find(slug, None, label, exc)
            if fallback is None:
                raise
            return fallback
        if data is None:
            if entry is None:  # 304 without our ETag: a broken proxy; nothing to reuse
                raise ApiError(304, "bad_response", f"unexpected 304 for {slug}")
            value = entry.value
        else:
            value = self._resolved(self._build(data), data, label)
        with self._lock:
            current = self._stamp(slug)
            held = self._moving.get(key)
            if stamp != current and held is not None and held.stamp == current:
                return held.value  # the stream's refetch after that event landed first
            # Asked before an event about it arrived: kept, but revalidated on the next get().
            checked = now if stamp == current else float("-inf")
            self._moving[key] = _Entry(value, checked, stamp)
            if not value.includes:
                self._pinned.setdefault((slug, value.version), value)
        return value

    def _resolved(self, value: PromptVersion, data: dict[str, Any] | None, label: str | None
                  ) -> PromptVersion:
        """value with its partials expanded as the fetch resolved them (SPEC §13)."""
        includes = (data or {}).get("includes")
        if not includes:
            return value
        return value.with_includes(includes, label, self._get_pinned)

    # --- live (SPEC §12): called with self._lock held, or from the stream's thread ---------

    def _stamp(self, slug: str) -> tuple[int, int]:
        return self._generation, self._seen.get(slug, 0)

    def _live_fresh(self, slug: str, entry: _Entry) -> bool:
        """Up to date by the stream: up, and no event about slug since it was asked."""
        return self._live_up and entry.stamp == self._stamp(slug)

    def _open_stream(self, timeout: float) -> LiveStream:
        path = f"/projects/{segment(self.project)}/events/stream" if self.project else \
            "/events/stream"  # the key's own project
        url, headers = self._api.url_and_headers(path)
        return LiveStream(url, headers, self._on_event, self._on_up, self._on_down,
                          on_end=self._on_end, connect_timeout=timeout)

    def _on_end(self, stream: LiveStream) -> None:
        """The stream ended for good: no cached copy is served unasked (a refusal reaches get())."""
        log.warning("promptsync: live updates off: %s", stream.ended)
        with self._lock:
            self._live_up = False
            self._generation += 1  # a fetch under way when it ended is not cached as fresh
            self._moving = {key: _Entry(entry.value, -math.inf, entry.stamp)
                            for key, entry in self._moving.items()}
            self._pinned.clear()  # no revalidation for these: fetched again
            self._live_error = stream.error  # None: no refusal (a URL it cannot stream from)

    def _on_up(self, resumed: bool) -> None:
        if not resumed:  # else the server replays what we missed, and those events refetch
            with self._lock:
                self._generation += 1  # events may have been missed: check every entry once
                slugs = {slug for slug, _ in self._moving}
            self._refresh(slugs)
        with self._lock:
            self._live_up = True

    def _on_down(self) -> None:
        with self._lock:
            self._live_up = False

    def _on_event(self, event: SseEvent) -> None:
        named = changed_slugs(event)
        with self._lock:
            if named is None:  # the whole project changed
                self._generation += 1
                named = {slug for slug, _ in self._moving}
            for slug in named:
                self._seen[slug] = self._seen.get(slug, 0) + 1
        self._refresh(named)

    def _refresh(self, slugs: set[str]) -> None:
        """Refetch the cached latest and labels of these slugs (on the stream's thread)."""
        with self._lock:
            keys = [(key, entry) for key, entry in self._moving.items() if key[0] in slugs]
        for key, entry in keys:
            try:
                self._fetch_moving(key, entry, self._clock())
            except PromptArchived:
                pass  # its copies are dropped: the next get() raises it
            except (ServerUnreachable, ApiError, BundleError) as exc:
                if isinstance(exc, ApiError) and exc.status == 404:
                    with self._lock:
                        self._moving.pop(key, None)
                log.info("promptsync: refreshing %s after an event: %s", key[0], exc)

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

    def clear_cache(self) -> None:
        """Forget every cached version and the loaded bundle."""
        with self._lock:
            self._pinned.clear()
            self._moving.clear()
        self._fallback.forget()

    @property
    def live(self) -> bool:
        """Whether the event stream is up now (always False without live=True)."""
        return self._live_up

    @property
    def live_error(self) -> ApiError | None:
        """The server's refusal that ended the event stream for good (e.g. a revoked key)."""
        return self._live_error

    def close(self) -> None:
        """End the event stream's thread, if any, and close the HTTP connections."""
        if self._live is not None:
            self._live.close()
            self._on_down()
        self._api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
