"""Settings read from the environment, with a clear error where production needs a value."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

# The request log: a line of text, a JSON object per line, or none (a proxy in front logs).
LOG_FORMATS = ("text", "json", "off")


class ConfigurationError(click.ClickException, RuntimeError):
    """A required setting is missing or malformed."""

    # A ClickException: `flask --app webapi db upgrade` (or any flask command) prints it as
    # one "Error: …" line and exits 1, not as a traceback.


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(instance_path: str) -> str:
    """DATABASE_URL, normalised for SQLAlchemy; SQLite in the instance folder by default."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "promptsync.db")
    return normalise_database_url(url)


def normalise_database_url(url: str) -> str:
    """Pin the psycopg2 driver: SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


def from_environment(instance_path: str) -> dict[str, Any]:
    """Every setting the app reads, with its default (documented in .env.example)."""
    env = os.environ.get("PROMPTSYNC_ENV", "production").strip().lower()
    development = env in {"development", "dev"}
    return {
        "ENV_NAME": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        # Postgres: the longest wait for a connection (libpq connect_timeout), so that a database
        # host that drops or black-holes packets fails /readyz and requests in seconds, not after
        # the kernel's TCP timeout (minutes). 0 waits without a limit.
        "DATABASE_CONNECT_TIMEOUT": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")),
        "BCRYPT_ROUNDS": int(os.environ.get("BCRYPT_ROUNDS", "12")),
        "SIGNUP_OPEN": _bool("PROMPTSYNC_SIGNUP_OPEN", True),
        "CORS_ORIGINS": [o for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()],
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(8 * 1024 * 1024))),
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not development),
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCKOUT_SECONDS": int(os.environ.get("LOGIN_LOCKOUT_SECONDS", "300")),
        "KEY_TOUCH_SECONDS": int(os.environ.get("KEY_TOUCH_SECONDS", "60")),
        # The event stream (webapi/live/): a comment this often on an idle stream; a stream's
        # longest life (0: none; a limit makes clients reconnect, spreading them over workers);
        # on SQLite how often other processes' events are looked for; the events a subscriber
        # may fall behind before it is cut off (it resumes by id); a hub's life without any.
        "LIVE_KEEPALIVE_SECONDS": float(os.environ.get("LIVE_KEEPALIVE_SECONDS", "15")),
        "LIVE_STREAM_SECONDS": float(os.environ.get("LIVE_STREAM_SECONDS", "0")),
        "LIVE_POLL_SECONDS": float(os.environ.get("LIVE_POLL_SECONDS", "0.5")),
        "LIVE_QUEUE_SIZE": int(os.environ.get("LIVE_QUEUE_SIZE", "1000")),
        "LIVE_LINGER_SECONDS": float(os.environ.get("LIVE_LINGER_SECONDS", "10")),
        # How often an open stream or long poll asks again whether its caller may still read the
        # project (a revoked key, a removed member, a dead session ends it; webapi/live/access.py).
        "LIVE_RECHECK_SECONDS": float(os.environ.get("LIVE_RECHECK_SECONDS", "15")),
        # Webhook URLs may reach loopback and private networks (local development only).
        "WEBHOOK_ALLOW_PRIVATE": _bool("WEBHOOK_ALLOW_PRIVATE", False),
        # Days a finished webhook delivery (delivered or given up) stays in its log; 0: for good.
        "WEBHOOK_DELIVERY_RETENTION_DAYS": float(
            os.environ.get("WEBHOOK_DELIVERY_RETENTION_DAYS", "30")),
        "METRICS_ENABLED": _bool("METRICS_ENABLED", False),
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text").strip().lower() or "text",
    }


def check(config: dict[str, Any]) -> None:
    """Refuse to start without the settings production needs."""
    if config.get("LOG_FORMAT", "text") not in LOG_FORMATS:
        raise ConfigurationError(
            f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {config['LOG_FORMAT']!r}")
    if not config.get("SECRET_KEY"):
        if config.get("TESTING") or config.get("ENV_NAME") in {"development", "dev"}:
            return
        raise ConfigurationError(
            "SECRET_KEY is not set: set it to a long random string "
            "(python -c 'import secrets; print(secrets.token_hex(32))'), "
            "or set PROMPTSYNC_ENV=development for a local throwaway server"
        )
