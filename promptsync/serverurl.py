"""What a server URL must be: http or https, a host, a valid port; kept without a trailing slash."""

from __future__ import annotations

from urllib.parse import urlsplit

from promptsync.errors import ConfigError


def normalize_server(url: str) -> str:
    """Return ``url`` without trailing slashes, or raise ConfigError if it is not http(s)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:  # "http://[::1:5000" or "http://host:abc": a traceback otherwise
        parts = urlsplit("")
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query
            or parts.fragment):
        raise ConfigError(f"server must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")
