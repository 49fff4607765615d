"""The web admin under /admin: server-rendered pages over the same services as the API."""

from __future__ import annotations

from flask import Flask

from webapi.admin import accounts, activity, lifecycle, manage, promotions, prompts, webhooks
from webapi.admin.common import bp

__all__ = ["accounts", "activity", "lifecycle", "manage", "promotions", "prompts", "register",
           "webhooks"]


def register(app: Flask) -> None:
    """Mount the admin pages and their static files at /admin."""
    app.register_blueprint(bp, url_prefix="/admin")
