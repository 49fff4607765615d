"""Server-Sent Events: the replay from the table, then live events, with keep-alive comments."""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from webapi.live import tail
from webapi.live.hub import Hub

RETRY_MS = 1000  # the reconnection delay a browser's EventSource is told to use


@dataclass(frozen=True)
class StreamSettings:
    """LIVE_KEEPALIVE_SECONDS, and LIVE_STREAM_SECONDS (0: a stream never ends by itself)."""

    keepalive: float = 15.0
    lifetime: float = 0.0


def frame(event: dict[str, Any]) -> str:
    """One event as SSE: id, event (the action), data (the event JSON of GET /events)."""
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event['id']}\nevent: {event['action']}\ndata: {data}\n\n"


def event_stream(hub: Hub, project_id: int, after: int | None,
                 settings: StreamSettings) -> Generator[str, None, None]:
    """The body of one stream: subscribe, replay (after, watermark] from the table, then live.

    Subscribing before the replay leaves no gap: every event after the watermark is queued for
    this subscriber while the replay reads those up to it. Holds no database connection while
    idle (the replay's pages each take one briefly)."""
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
        last = max(last, mark)
        ends = time.monotonic() + settings.lifetime if settings.lifetime > 0 else None
        while True:
            wait = settings.keepalive
            if ends is not None:
                wait = min(wait, ends - time.monotonic())
                if wait <= 0:
                    return
            events = subscriber.take(wait)
            if subscriber.dropped:
                return  # fell behind: the client resumes with Last-Event-ID
            if not events:
                yield ": keep-alive\n\n"
                continue
            chunk = "".join(frame(e) for e in events if e["id"] > last)
            last = max(last, events[-1]["id"])
            if chunk:
                yield chunk
    finally:
        hub.unsubscribe(subscriber)


def wait_for_events(hub: Hub, project_id: int, after: int, wait: float,
                    limit: int) -> list[dict[str, Any]]:
    """The long poll: events after `after` (oldest first, at most `limit`) as soon as there is
    one, or [] after `wait` seconds."""
    subscriber, mark = hub.subscribe(project_id)
    try:
        if after < mark:
            page = tail.read_page(hub.engine, project_id, after, mark, limit)
            if page:
                return page
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            events = [e for e in subscriber.take(left) if e["id"] > after]
            if subscriber.dropped:
                # More than a queue's worth arrived at once: read them from the table.
                return tail.read_page(hub.engine, project_id, after, 2**63 - 1, limit)
            if events:
                return events[:limit]
        return []
    finally:
        hub.unsubscribe(subscriber)
