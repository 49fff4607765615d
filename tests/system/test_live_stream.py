"""The live event stream across real server processes (SPEC §12): two gunicorn servers on one
Postgres database, two on one SQLite file; resume by Last-Event-ID; the long poll."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.app import truncate_postgres
from tests.support.gunicorn import Gunicorn
from tests.support.live import create_account, create_key
from tests.support.sse import StreamReader
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery"
# Streams need a threaded worker (an open stream holds a thread); keep-alives every second so
# the tests see them, and so a dropped reader notices at once.
STREAM_ENV = {"GUNICORN_CMD_ARGS": "-k gthread --threads 16", "LIVE_KEEPALIVE_SECONDS": "1",
              "LIVE_POLL_SECONDS": "0.2"}


@dataclass
class Pair:
    """Two server processes on one database, and an editor key of project 'demo'."""

    one: Gunicorn
    two: Gunicorn
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def stream(self, server: Gunicorn, **headers: str) -> StreamReader:
        return StreamReader(f"{server.url}/api/v1/projects/demo/events/stream",
                            {**self.headers, **headers})

    def push(self, server: Gunicorn, slug: str, text: str) -> int:
        response = httpx.post(f"{server.url}/api/v1/projects/demo/prompts/{slug}",
                              json={"source": f"template: {text}\n"}, headers=self.headers,
                              timeout=10)
        assert response.status_code == 201, response.text
        return int(response.json()["version"])

    def event_ids(self, server: Gunicorn) -> list[int]:
        """Every event id of the project, oldest first (the audit log, read whole)."""
        response = httpx.get(f"{server.url}/api/v1/projects/demo/events?after=0&limit=1000",
                             headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["events"]]


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Pair]:
    """Two single-worker gunicorn servers (gthread) on one database."""
    work = tmp_path_factory.mktemp("live")
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
        truncate_postgres(url)
    else:
        url = f"sqlite:///{work / 'shared.db'}"
    one = Gunicorn(work / "one", url, workers=1, env=STREAM_ENV)
    two = Gunicorn(work / "two", url, workers=1, env=STREAM_ENV)
    try:
        one.start()
        two.start(migrate=False)
        create_account(one.url, "ann@example.com", PASSWORD, "demo")
        yield Pair(one, two, create_key(one.url, "ann@example.com", PASSWORD, "demo"))
    finally:
        two.stop()
        one.stop()


def test_a_push_through_one_server_reaches_a_stream_of_the_other(pair: Pair) -> None:
    with pair.stream(pair.two) as reader:
        wait_until(lambda: "connected" in reader.received.comments, 10, "the stream to open")
        version = pair.push(pair.one, "live/hello", "Hello.")
        wait_until(lambda: any(e["data"]["slug"] == "live/hello" for e in reader.received.events),
                   10, lambda: f"the push on the other stream: {reader.received}")
        wait_until(lambda: "keep-alive" in reader.received.comments, 5, "a keep-alive comment")
    got = reader.received
    assert got.status == 200 and got.content_type.startswith("text/event-stream")
    event = next(e for e in got.events if e["data"]["slug"] == "live/hello")
    assert event["action"] == "version.created" == event["data"]["action"]
    assert event["id"] == event["data"]["id"]
    assert event["data"]["details"]["version"] == version
    # The data is the event JSON of GET /events, field for field.
    listed = httpx.get(f"{pair.one.url}/api/v1/projects/demo/events?limit=50",
                       headers=pair.headers, timeout=10).json()["events"]
    assert event["data"] in listed


def test_resume_with_last_event_id_loses_nothing(pair: Pair) -> None:
    """A writer pushes through one server while a reader of the other drops its connection
    again and again, resuming each time from the last id it got: it gets every event, once,
    in order."""
    start = pair.event_ids(pair.one)[-1]
    pushes, stop = 24, threading.Event()

    def writer() -> None:
        for n in range(pushes):
            pair.push(pair.one, f"resume/p{n % 4}", f"Text {n}.")
        stop.set()

    thread = threading.Thread(target=writer)
    received: list[int] = []
    last = start
    thread.start()
    try:
        drops = 0
        while not (stop.is_set() and last >= pair.event_ids(pair.one)[-1]):
            with pair.stream(pair.two, **{"Last-Event-ID": str(last)}) as reader:
                wait_until(functools.partial(_three_or_done, reader, stop), 20,
                           "events on the resumed stream")
            # Whatever arrived before the drop counts; the next stream resumes after it.
            received += reader.received.ids()
            if reader.received.events:
                last = reader.received.ids()[-1]
            drops += 1
            assert drops < 200, "the reader made no progress"
    finally:
        thread.join(timeout=60)
    expected = [i for i in pair.event_ids(pair.one) if i > start]
    assert len(expected) == pushes
    assert received == expected
    assert drops > 1


def _three_or_done(reader: StreamReader, done: threading.Event) -> bool:
    # Once the writer is done, one more event is still owed (the loop runs only while the
    # reader is behind): wait for it, or a stream dropped before the owed event reached the
    # other server (SQLite's cross-process poll) counts as a drop without progress.
    got = len(reader.received.events)
    return got >= 3 or (done.is_set() and got > 0)


def test_long_poll_answers_as_soon_as_an_event_exists(pair: Pair) -> None:
    last = pair.event_ids(pair.one)[-1]
    answer: dict[str, httpx.Response] = {}

    def poll() -> None:
        answer["r"] = httpx.get(f"{pair.two.url}/api/v1/projects/demo/events",
                                params={"after": last, "wait": 20}, headers=pair.headers,
                                timeout=30)

    thread = threading.Thread(target=poll)
    began = time.monotonic()
    thread.start()
    pair.push(pair.one, "poll/one", "Polled.")
    thread.join(timeout=25)
    took = time.monotonic() - began
    response = answer["r"]
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert [e["slug"] for e in events] == ["poll/one"] and events[0]["id"] > last
    assert took < 15, "the long poll waited out its time instead of answering the event"


def test_long_poll_answers_an_empty_list_after_its_wait(pair: Pair) -> None:
    last = pair.event_ids(pair.one)[-1]
    response = httpx.get(f"{pair.two.url}/api/v1/projects/demo/events",
                         params={"after": last, "wait": 1}, headers=pair.headers, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"events": [], "next": None}


def test_the_key_shorthand_streams_the_keys_project(pair: Pair) -> None:
    with StreamReader(f"{pair.two.url}/api/v1/events/stream", pair.headers) as reader:
        wait_until(lambda: "connected" in reader.received.comments, 10, "the stream to open")
        pair.push(pair.one, "short/hand", "Short.")
        wait_until(lambda: any(e["data"]["slug"] == "short/hand"
                               for e in reader.received.events), 10, "the event")


def test_a_stream_needs_a_viewer_of_the_project(pair: Pair, tmp_path: Path) -> None:
    response = httpx.get(f"{pair.two.url}/api/v1/projects/demo/events/stream", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
