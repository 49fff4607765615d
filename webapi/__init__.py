"""promptsync's HTTP API and web admin: create_app is the only entry point."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, redirect
from sqlalchemy import text

from . import admin, api, config, database, errors, openapi
from .extensions import db, login_manager, migrate

MIGRATIONS = str(Path(__file__).parent / "migrations")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, then test_config on top."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)
    config.check(app.config)
    uri = config.normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if not app.config.get("SECRET_KEY"):
        # Development and tests only (config.check refuses production): sessions end on restart.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        database.engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
    )
    app.config.update(
        SESSION_COOKIE_NAME="promptsync_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    login_manager.init_app(app)
    database.configure(app)
    errors.register_error_handlers(app)
    api.register(app)
    openapi.register_docs(app)
    admin.register(app)
    _register_cors(app)
    _register_basics(app)
    return app


def _register_cors(app: Flask) -> None:
    origins = app.config.get("CORS_ORIGINS") or []
    if origins:
        from flask_cors import CORS

        CORS(app, resources={r"/api/*": {"origins": origins}},
             allow_headers=["X-API-Key", "Authorization", "Content-Type", "If-None-Match"],
             expose_headers=["ETag"])


def _register_basics(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Any:
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok")

    @app.get("/")
    def index() -> Any:
        return redirect("/admin/")

    @app.after_request
    def security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        return response
