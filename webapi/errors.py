"""The one JSON error shape, built in one place, and the app-level handlers that use it."""

from __future__ import annotations

import logging
from typing import Any

import psycopg2
from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from promptsync.protocol import ERROR_CODES
from webapi.extensions import db

log = logging.getLogger(__name__)



class HttpError(Exception):
    """Raised by views to answer with an error; `extra` fields join the JSON body."""

    def __init__(self, status: int, detail: str, code: str | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.code = code or ERROR_CODES.get(status, "error")
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}


def error_body(status: int, detail: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON error body: {"error": code, "detail": sentence, ...extra}."""
    return {"error": code or ERROR_CODES.get(status, "error"), "detail": detail, **extra}


def error_response(status: int, detail: str, code: str | None = None, **extra: Any) -> Response:
    """A JSON error response with the right status."""
    response = jsonify(error_body(status, detail, code, **extra))
    response.status_code = status
    return response


def _wants_json() -> bool:
    path = request.path
    return not (path.startswith("/admin") or path == "/")


def _page(status: int, detail: str) -> tuple[str, int]:
    return render_template("admin/error.html", status=status, detail=detail), status


def register_error_handlers(app: Flask) -> None:
    """App-level handlers, so routing errors (404/405) get the same shape as view errors."""

    @app.errorhandler(HttpError)
    def handle_http_error(exc: HttpError) -> Any:
        if not _wants_json():
            return _page(exc.status, exc.detail)
        response = error_response(exc.status, exc.detail, exc.code, **exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(HTTPException)
    def handle_werkzeug(exc: HTTPException) -> Any:
        status = exc.code or 500
        detail = {
            404: "No such resource.",
            405: f"Method {request.method} is not allowed here.",
            413: "The request body is too large.",
        }.get(status, exc.description or "Request failed.")
        if not _wants_json():
            return _page(status, detail)
        response = error_response(status, detail)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    # Raw driver errors too: a connection that died mid-request can fail again while the pool
    # resets it on check-in, outside SQLAlchemy's wrapping (tests/server/test_faults_db.py).
    @app.errorhandler(psycopg2.OperationalError)
    @app.errorhandler(psycopg2.InterfaceError)
    def handle_db_down(exc: Exception) -> Any:
        # A lost database connection is an outage, not a bug: say so and let clients retry.
        if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not isinstance(
            exc, OperationalError
        ):
            return handle_unexpected(exc)
        log.warning("database unavailable: %s", type(exc).__name__)
        db.session.rollback()
        if not _wants_json():
            return _page(503, "The database is unavailable; try again shortly.")
        response = error_response(503, "The database is unavailable; try again shortly.")
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return _page(500, "Something went wrong on our side.")
        return error_response(500, "Something went wrong on our side.")
