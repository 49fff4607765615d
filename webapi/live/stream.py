"""Server-Sent Events: the replay from the table, then live events, with keep-alive comments;
the caller's access asked again while the stream runs (live/access.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from webapi.errors import HttpError, error_body
from webapi.live import tail
from webapi.live.access import Recheck
from webapi.live.hub import Hub

RETRY_MS = 1000  # the reconnection delay a browser's EventSource is told to use
# The last words of a stream whose server is stopping: a comment, then a clean end, which every
# client (EventSource, client/live.py) answers by reconnecting with Last-Event-ID. Not an error
# event: that one means "do not come back" (the caller lost access).
STOPPING = ": server stopping, reconnect\n\n"


@dataclass(frozen=True)
class StreamSettings:
    """LIVE_KEEPALIVE_SECONDS, LIVE_STREAM_SECONDS (0: a stream never ends by itself) and
    LIVE_RECHECK_SECONDS (how often an open stream asks again whether its caller may read)."""

    keepalive: float = 15.0
    lifetime: float = 0.0
    recheck: float = 15.0


def frame(event: dict[str, Any]) -> str:
    """One event as SSE: id, event (the action), data (the event JSON of GET /events)."""
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event['id']}\nevent: {event['action']}\ndata: {data}\n\n"


def error_frame(error: HttpError) -> str:
    """The stream's last frame when its caller lost access: `event: error`, the JSON error body
    a request would get, with its status. No id: a resume point stays the last event's."""
    body = {**error_body(error.status, error.detail, error.code, **error.extra),
            "status": error.status}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"event: error\ndata: {data}\n\n"


def event_stream(hub: Hub, project_id: int, after: int | None, settings: StreamSettings,
                 recheck: Recheck) -> Generator[str, None, None]:
    """The body of one stream: subscribe, replay (after, watermark] from the table, then live.

    Subscribing before the replay leaves no gap: every event after the watermark is queued for
    this subscriber while the replay reads those up to it. Holds no database connection while
    idle (the replay's pages and each recheck take one briefly). Ends with error_frame when the
    caller may no longer read the project, with STOPPING when the process stops (hub.stop_all)."""
    subscriber, mark = hub.subscribe(project_id)
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"  # sends the headers at once
        last = mark if after is None else after
        while last < mark:
            page = tail.read_page(hub.engine, project_id, last, mark)
            if not page:
                break
            for event in page:
                yield frame(event)
            last = page[-1]["id"]
            if subscriber.ended:
                yield STOPPING  # the resume point is the last event sent
                return
        last = max(last, mark)
        now = time.monotonic()
        ends = now + settings.lifetime if settings.lifetime > 0 else None
        quiet_until = now + settings.keepalive  # a comment is owed when nothing is sent by then
        while True:
            now = time.monotonic()
            wait = min(quiet_until - now, recheck.due_in())
            if ends is not None:
                wait = min(wait, ends - now)
                if ends <= now:
                    return
            events = subscriber.take(max(0.0, wait))
            if subscriber.ended:
                # Events taken but unsent are replayed on the reconnect (Last-Event-ID).
                yield STOPPING
                return
            if subscriber.dropped:
                return  # fell behind: the client resumes with Last-Event-ID
            try:
                refused = recheck.check(events)
            except SQLAlchemyError:
                return  # cannot tell: the client reconnects, and its request is checked anew
            if refused is not None:
                yield error_frame(refused)  # before the events: none after access ended
                return
            chunk = "".join(frame(e) for e in events if e["id"] > last)
            if events:
                last = max(last, events[-1]["id"])
            if chunk:
                yield chunk
            elif time.monotonic() >= quiet_until:
                yield ": keep-alive\n\n"
            else:
                continue
            quiet_until = time.monotonic() + settings.keepalive
    finally:
        hub.unsubscribe(subscriber)


def wait_for_events(hub: Hub, project_id: int, after: int, wait: float, limit: int,
                    recheck: Recheck) -> list[dict[str, Any]]:
    """The long poll: events after `after` (oldest first, at most `limit`) as soon as there is
    one, or [] after `wait` seconds (or at once when the process stops); raises the refusal when
    the caller loses access meanwhile."""
    subscriber, mark = hub.subscribe(project_id)
    try:
        if after < mark:
            page = tail.read_page(hub.engine, project_id, after, mark, limit)
            if page:
                return page
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            events = [e for e in subscriber.take(min(left, recheck.due_in())) if e["id"] > after]
            if subscriber.ended:
                return []  # stopping: as at the timeout; the next poll asks the same again
            refused = recheck.check(events)
            if refused is not None:
                raise refused
            if subscriber.dropped:
                # More than a queue's worth arrived at once: read them from the table.
                return tail.read_page(hub.engine, project_id, after, 2**63 - 1, limit)
            if events:
                return events[:limit]
        return []
    finally:
        hub.unsubscribe(subscriber)
