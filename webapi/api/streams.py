"""The live event stream (Server-Sent Events) and the long poll of GET /events (SPEC §12)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from flask_login import current_user

from webapi.auth.caller import require_principal
from webapi.auth.principal import ProjectRef
from webapi.auth.roles import key_project_slug, project_role
from webapi.errors import HttpError
from webapi.live import tail
from webapi.live.access import Recheck, caller_of
from webapi.live.hub import Hub
from webapi.live.registry import hub_of, install
from webapi.live.stream import StreamSettings, event_stream, wait_for_events
from webapi.paging import MAX_INT, int_arg

bp = Blueprint("streams", __name__)
MAX_WAIT = 30  # s: the longest long poll (SPEC §12)


@bp.record_once
def _install(state: Any) -> None:
    install(state.app)


@bp.get("/projects/<p>/events/stream")
def project_stream(p: str) -> Response:
    return _stream(p)


@bp.get("/events/stream")
def key_stream() -> Response:
    return _stream(key_project_slug())


def _stream(project_slug: str) -> Response:
    project = project_role(project_slug, "viewer").project
    after = _last_event_id()
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = StreamSettings(keepalive=float(app.config["LIVE_KEEPALIVE_SECONDS"]),
                              lifetime=float(app.config["LIVE_STREAM_SECONDS"]))
    # The body runs after the request context is gone: it takes the hub, not the session, so
    # an idle stream holds no database connection.
    hub = hub_of(app)
    body = event_stream(hub, project.id, after, settings, _recheck(app, hub, project))
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _last_event_id() -> int | None:
    """Where to resume: the Last-Event-ID header (an EventSource's reconnect), else ?after=."""
    header = request.headers.get("Last-Event-ID")
    if header is not None and header.strip():
        value = header.strip()
        if not (value.isascii() and value.isdigit()) or int(value) > MAX_INT:
            raise HttpError(400, "'Last-Event-ID' must be an event id (an integer).")
        return int(value)
    return int_arg("after")


def follow_events(project: ProjectRef, limit: int) -> list[dict[str, Any]] | None:
    """GET /events?after=ID[&wait=S]: the events after ID, oldest first, waiting up to S s for
    one; None when the request is not a long poll (no `after` nor `wait`)."""
    after, wait = int_arg("after"), int_arg("wait", 0, MAX_WAIT)
    if after is None and wait is None:
        return None
    if request.args.get("cursor"):
        raise HttpError(400, "Pass 'cursor' (older events) or 'after' (newer), not both.")
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    lifetime = float(app.config["LIVE_STREAM_SECONDS"])
    seconds = min(float(wait or 0), lifetime) if lifetime > 0 else float(wait or 0)
    hub = hub_of(app)
    if after is None:
        after = tail.newest_id(hub.engine)  # only what happens from now on
    if seconds <= 0:
        return tail.read_page(hub.engine, project.id, after, MAX_INT, limit)
    return wait_for_events(hub, project.id, after, seconds, limit, _recheck(app, hub, project))


def _recheck(app: Flask, hub: Hub, project: ProjectRef) -> Recheck:
    """How the open stream or long poll asks again whether this request's caller may read."""
    principal = require_principal()  # resolved already: no query
    generation = None if principal.is_key else int(current_user.session_generation)
    return Recheck(hub.engine, caller_of(project, principal, generation),
                   float(app.config["LIVE_RECHECK_SECONDS"]))
