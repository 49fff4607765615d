"""promptsync's HTTP API and web admin: create_app is the only entry point."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, redirect, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from webapi import admin, api, config, database, errors, ops
from webapi.extensions import db, login_manager, migrate
from webapi.fetch import middleware
from webapi.http_edges import App
from webapi.openapi.document import register_docs
from webapi.webhooks.worker import cli as webhooks_cli

MIGRATIONS = str(Path(__file__).parent / "migrations")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, then test_config on top."""
    app = App(__name__, instance_relative_config=True)
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
        database.engine_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                app.config["DATABASE_CONNECT_TIMEOUT"]),
    )
    app.config.update(
        SESSION_COOKIE_NAME="promptsync_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.session_interface = CookieSessions()
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
    register_docs(app)
    admin.register(app)
    app.cli.add_command(webhooks_cli)  # flask --app webapi webhooks run: the delivery worker
    _register_cors(app)
    _register_basics(app)
    middleware.install(app, [(name, value) for _, name, value in SECURITY_HEADERS])
    ops.register(app)  # probes, metrics, request log: last, so it wraps the fast path too
    return app


def _register_cors(app: Flask) -> None:
    origins = app.config.get("CORS_ORIGINS") or []
    if origins:
        from flask_cors import CORS

        CORS(app, resources={r"/api/*": {"origins": origins}},
             allow_headers=["X-API-Key", "Authorization", "Content-Type", "If-None-Match"],
             expose_headers=["ETag"])


def _register_basics(app: Flask) -> None:
    @app.get("/")
    def index() -> Any:
        return redirect("/admin/")

    # flask-login's after_request hook, folded into the app's one below: one hook call per
    # request instead of two (Flask looks each up, checks it for a coroutine and calls it).
    remember_cookie = login_manager._update_remember_cookie  # noqa: SLF001
    app.after_request_funcs[None].remove(remember_cookie)

    @app.after_request
    def after_request(response: Any) -> Any:
        # A request without a Cookie header has an empty session: flask-login's hook would only
        # read it (which still earns the response "Vary: Cookie", kept), unless it is told to
        # refresh the remember cookie on every request.
        if "HTTP_COOKIE" in request.environ or app.config.get(
                "REMEMBER_COOKIE_REFRESH_EACH_REQUEST"):
            response = remember_cookie(response)
        else:
            session.accessed = True
        # The security headers, unless the response set its own (the /docs page has its own
        # CSP): one pass over the response's headers rather than a case-insensitive lookup per
        # header.
        headers = response.headers
        own = {name.lower() for name, _ in headers}
        headers.extend([(name, value) for lower, name, value in SECURITY_HEADERS
                        if lower not in own])
        return response


SECURITY_HEADERS = [
    (name.lower(), name, value)
    for name, value in (
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy",
         "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
         "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    )
]


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without their cost on requests that carry no cookie at
    all (every API-key call): no signing serializer is built to open an empty session, and an
    empty session left unchanged is not run through the cookie settings to be saved. The
    answers are the parent's, Vary: Cookie included."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if session or session.modified:
            super().save_session(app, session, response)
        elif session.accessed and "cookie" not in _tokens(response.headers.get("Vary")):
            response.vary.add("Cookie")  # what the parent does for an empty session it read


def _tokens(header: str | None) -> set[str]:
    return {token.strip().lower() for token in header.split(",")} if header else set()
