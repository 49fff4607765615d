"""What the SDK serves when the server cannot answer: which failures count as an outage, and the
copy in an export bundle (``bundle=`` or PROMPTSYNC_BUNDLE) that matches the request."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from promptsync.client.bundle import load_bundle, with_bundled_includes
from promptsync.client.version import PromptVersion
from promptsync.errors import ApiError, BundleError, ServerUnreachable

log = logging.getLogger("promptsync.client.sdk")  # the SDK's logger: what applications configure

ENV_BUNDLE = "PROMPTSYNC_BUNDLE"


def is_outage(exc: Exception) -> bool:
    """True for failures a cached copy should paper over: unreachable, 5xx, rate limits."""
    if isinstance(exc, ServerUnreachable):
        return True
    return isinstance(exc, ApiError) and (exc.status >= 500 or exc.status in (408, 429))


class BundleFallback:
    """An export bundle read on first need (then kept), for the copies it holds."""

    def __init__(self, path: Path | None, project: str | None) -> None:
        self.path, self.project = path, project
        self._lock = threading.Lock()
        self._bundle: dict[str, Any] | None = None

    def find(self, slug: str, version: int | None, label: str | None, cause: Exception
             ) -> PromptVersion | None:
        """The bundle's copy when it matches the request, else None."""
        if self.path is None:
            return None
        bundle = self._load(cause)
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
        log.warning("promptsync: %s; serving %s v%d from %s", cause, slug, entry["version"],
                    self.path)
        copy = PromptVersion.from_source(
            slug, entry["version"], entry["sha256"], entry["labels"], entry["source"]
        )
        # Its partials as the export resolved them, looked up as the server would for this
        # request (by its label, or at latest): what the bundle cannot answer so stays
        # unresolved, and its render refuses rather than give another text.
        return with_bundled_includes(copy, bundle, label)

    def _load(self, cause: Exception) -> dict[str, Any]:
        """The bundle, read and checked once (a fault names the outage it was asked for)."""
        assert self.path is not None
        with self._lock:
            bundle = self._bundle
        if bundle is not None:
            return bundle
        try:
            bundle = load_bundle(self.path)
        except BundleError as exc:
            raise BundleError(f"{cause}; and the fallback {exc}") from cause
        if self.project and bundle.get("project") not in (None, self.project):
            raise BundleError(
                f"{cause}; and the fallback bundle {self.path} is for project "
                f"{bundle.get('project')!r}, not {self.project!r}"
            ) from cause
        with self._lock:
            self._bundle = bundle
        return bundle

    def forget(self) -> None:
        """Read the bundle again on the next need."""
        with self._lock:
            self._bundle = None
