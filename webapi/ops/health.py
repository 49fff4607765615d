"""GET /healthz (the process answers) and GET /readyz (the database answers, schema at head)."""

from __future__ import annotations

import logging
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from webapi.errors import error_body
from webapi.extensions import db

log = logging.getLogger(__name__)
# The head revisions of the packaged migrations, read once per app (parsing them takes ms).
HEADS = "promptsync.migration_heads"


def _answer(code: int, /, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"  # a probe wants now, never a cached answer
    return response


def _unavailable(detail: str, **body: Any) -> Response:
    """503 in the one error shape ({"error", "detail"}), with what the probe found beside it."""
    return _answer(503, **error_body(503, detail), status="unavailable", **body)


def healthz() -> Response:
    """200 while the process can answer at all: no database, nothing that can be slow."""
    return _answer(200, status="ok")


def migration_heads(app: Flask) -> tuple[str, ...]:
    """The head revision(s) of the migrations Flask-Migrate was given (shipped in the package)."""
    heads = app.extensions.get(HEADS)
    if heads is None:
        directory = app.extensions["migrate"].directory
        heads = app.extensions[HEADS] = tuple(sorted(ScriptDirectory(directory).get_heads()))
    return heads


def readyz() -> Response:
    """200 when the database answers and its schema is at the packaged migrations' head."""
    head = migration_heads(current_app)
    try:
        with db.engine.connect() as connection:
            current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    except (SQLAlchemyError, OSError) as exc:
        # The reason goes to the log only: a driver's message can name hosts and users.
        log.warning("readyz: the database cannot be reached: %s", exc)
        return _unavailable("The database cannot be reached.", database="unreachable")
    schema = {"current": ",".join(current) or None, "head": ",".join(head)}
    if current != head:
        return _unavailable("The database schema is not at the migrations' head: "
                            "run `flask --app webapi db upgrade`.", database="ok", schema=schema)
    return _answer(200, status="ready", database="ok", schema=schema)


def register(app: Flask) -> None:
    """Add the two probes (outside /api/v1: they are the operator's, not the product's)."""
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
