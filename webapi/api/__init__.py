"""The JSON API under /api/v1: one blueprint per resource."""

from __future__ import annotations

from flask import Flask, request

from webapi.api import (
    accounts,
    backup,
    invitations,
    keys,
    projects,
    prompts,
    releases,
    streams,
    webhooks,
)
from webapi.api.inputs import reject_nul

PREFIX = "/api/v1"


def register(app: Flask) -> None:
    """Mount every API blueprint under /api/v1."""
    for module in (accounts, projects, invitations, keys, prompts, releases, backup,
                   streams, webhooks):
        app.register_blueprint(module.bp, url_prefix=PREFIX)

    @app.before_request
    def _no_nul_in_api_requests() -> None:
        # App-level rather than per blueprint, so unrouted /api paths are covered too.
        if request.path.startswith(PREFIX + "/"):
            reject_nul()
