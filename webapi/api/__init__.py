"""The JSON API under /api/v1: one blueprint per resource."""

from __future__ import annotations

from flask import Flask

from . import accounts, keys, projects, prompts

PREFIX = "/api/v1"


def register(app: Flask) -> None:
    """Mount every API blueprint under /api/v1."""
    for module in (accounts, projects, keys, prompts):
        app.register_blueprint(module.bp, url_prefix=PREFIX)
