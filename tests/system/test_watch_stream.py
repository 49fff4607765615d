"""`promptsync watch` on the event stream (SPEC §12), the real command against a real gunicorn
gthread server: idle, it sends no request at all (the app's request log shows none); a change
pushed by another key reaches the unmodified file at once; after its connection is cut it
resumes from the last event id (the access log shows the Last-Event-ID it sent) and what was
pushed meanwhile reaches the file; while the stream does not answer, it polls. The first two run
on Postgres too (LISTEN/NOTIFY, not SQLite's poll; tests/support/per_backend.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.command import Background
from tests.support.environment import command_env
from tests.support.live import (
    create_account,
    create_key,
    key_client,
    make_prompt_repo,
    prompt_source,
)
from tests.support.logged_gunicorn import LoggedGunicorn
from tests.support.per_backend import site_fixtures
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery"
POLL = 0.3  # the watch's --poll-interval: what it would poll at without the stream
IDLE = 2.0  # an idle window of several poll intervals: any polling would show in it
STREAM = "/api/v1/projects/demo/events/stream"


@dataclass
class Site:
    server: LoggedGunicorn
    watch_key: str
    other: httpx.Client  # another pusher (an admin key)

    def push(self, slug: str, text: str) -> int:
        response = self.other.post(f"/projects/demo/prompts/{slug}",
                                   json={"source": source(text)})
        assert response.status_code == 201, response.text
        return int(response.json()["version"])

    def latest(self, slug: str) -> int:
        response = self.other.get(f"/projects/demo/prompts/{slug}")
        return int(response.json()["version"]) if response.status_code == 200 else 0

    def streams_opened(self) -> int:
        return sum(1 for _, path in self.server.started() if path == STREAM)


def _site(server: LoggedGunicorn) -> Site:
    create_account(server.url, "ann@example.com", PASSWORD, "demo")
    watch_key = create_key(server.url, "ann@example.com", PASSWORD, "demo")
    other_key = create_key(server.url, "ann@example.com", PASSWORD, "demo", role="admin")
    return Site(server, watch_key, key_client(server.url, other_key))


sites, site, any_site = site_fixtures("watch-stream", _site, lambda site: site.other.close())


class Watch(Background):
    """`promptsync watch` in ``root``, started: it said "watching"."""

    def __init__(self, root: Path, key: str) -> None:
        env = command_env(root / ".xdg", PROMPTSYNC_API_KEY=key, PYTHONUNBUFFERED="1")
        super().__init__(root, env, "watch", "--poll-interval", str(POLL))
        self.wait_for_line("watching", 20)


def test_idle_watch_sends_nothing_and_a_change_reaches_the_file_at_once(any_site: Site,
                                                                        tmp_path: Path) -> None:
    site = any_site
    prompts = make_prompt_repo(tmp_path, site.server.url, "demo",
                               {"greet.yaml": source("one")})
    opened = site.streams_opened()
    watch = Watch(tmp_path, site.watch_key)
    try:
        wait_until(lambda: site.latest("greet") == 1, 10,
                   lambda: f"the watch pushed greet: {watch.lines}")
        wait_until(lambda: site.streams_opened() == opened + 1, 10, "the watch's stream opened")
        # What connecting costs (one manifest read, for what the stream cannot replay) is done
        # when the log stays still for a poll interval; then a window of several.
        before = settled(site)
        # A label move changes no file: the watch does not even look.
        response = site.other.put("/projects/demo/prompts/greet/-/labels/staging",
                                  json={"version": 1})
        assert response.status_code == 200, response.text
        time.sleep(IDLE)  # a negative check: polling every 0.3 s would show 6 requests here
        assert [path for _, path in site.server.started()[before:]] == [
            "/api/v1/projects/demo/prompts/greet/-/labels/staging"]

        started = time.monotonic()
        site.push("greet", "two")
        wait_until(lambda: "two" in (prompts / "greet.yaml").read_text(), 5,
                   lambda: f"the pushed change in the file: {watch.lines}")
        took = time.monotonic() - started
        assert took < POLL, f"{took * 1000:.0f} ms: told by the stream, not by a poll"
        since = [path for _, path in site.server.started()]
        since = since[len(since) - since[::-1].index(STREAM):]  # after the stream opened
        assert not any("/events?" in path for path in since), f"a poll after the stream: {since}"
    finally:
        assert watch.end() == 130
    print(f"server change -> file in {took * 1000:.0f} ms")


def test_resumes_by_last_event_id_after_a_cut_and_misses_nothing(any_site: Site,
                                                                 tmp_path: Path) -> None:
    site = any_site
    proxy = TcpProxy("127.0.0.1", site.server.port)
    url = f"http://127.0.0.1:{proxy.port}"
    prompts = make_prompt_repo(tmp_path, url, "demo", {"cut.yaml": source("one")})
    opened = site.streams_opened()
    watch = Watch(tmp_path, site.watch_key)
    try:
        wait_until(lambda: site.latest("cut") == 1, 10, "the watch pushed cut")
        wait_until(lambda: site.streams_opened() == opened + 1, 10, "the watch's stream opened")
        site.push("cut", "two")  # told by the stream: its event id is where a resume starts
        wait_until(lambda: "two" in (prompts / "cut.yaml").read_text(), 5, "v2 in the file")
        seen = newest_event(site)

        proxy.down()  # the stream and every connection cut, new ones refused
        site.push("cut", "three")  # while the watch cannot hear
        proxy.up()
        wait_until(lambda: "three" in (prompts / "cut.yaml").read_text(), 15,
                   lambda: f"v3 in the file after the cut: {watch.lines}")
        wait_until(lambda: site.streams_opened() >= opened + 2, 10, "the stream reopened")
    finally:
        assert watch.end() == 130
        proxy.down()
    # The reconnect said where it had stopped (the access log writes a stream when it ends).
    wait_until(lambda: any(path == STREAM and last == str(seen)
                           for _, path, last, _ in site.server.requests()), 10,
               lambda: f"a stream resumed from {seen}: {site.server.requests()[-6:]}")


def test_polls_while_the_stream_never_answers(site: Site, tmp_path: Path) -> None:
    proxy = TcpProxy("127.0.0.1", site.server.port)
    # The stream request reaches the server; its answer never reaches the watch.
    hold = proxy.hold_next(f"GET {STREAM}".encode(), answer=True)
    url = f"http://127.0.0.1:{proxy.port}"
    prompts = make_prompt_repo(tmp_path, url, "demo", {"held.yaml": source("one")})
    watch = Watch(tmp_path, site.watch_key)
    try:
        wait_until(lambda: site.latest("held") == 1, 10, "the watch pushed held")
        assert hold.holding.wait(10), "the watch asked for the stream"
        polls = polled(site)
        site.push("held", "two")
        wait_until(lambda: "two" in (prompts / "held.yaml").read_text(), 10,
                   lambda: f"v2 in the file by polling: {watch.lines}")
        wait_until(lambda: polled(site) > polls, 5, "polling requests")
    finally:
        assert watch.end() == 130
        proxy.down()


def test_a_refused_stream_is_said_once_as_a_watch_line(site: Site, tmp_path: Path) -> None:
    """The stream ends for good when the watch's key is revoked: one line in watch's words says
    so and what it does instead, not the reader's logging warning."""
    response = site.other.post("/projects/demo/keys", json={"name": "doomed", "role": "editor"})
    assert response.status_code == 201, response.text
    key_id, key = response.json()["id"], response.json()["key"]
    make_prompt_repo(tmp_path, site.server.url, "demo", {"refused.yaml": source("one")})
    opened = site.streams_opened()
    watch = Watch(tmp_path, key)
    try:
        wait_until(lambda: site.latest("refused") == 1, 10, "the watch pushed refused")
        wait_until(lambda: site.streams_opened() == opened + 1, 10, "the watch's stream opened")
        response = site.other.delete(f"/projects/demo/keys/{key_id}")
        assert response.status_code == 204, response.text
        # Then polling meets the same refusal, said once too (the retries are silent).
        wait_until(lambda: any(line.startswith("error: ") for line in watch.lines), 15,
                   lambda: f"the poll's refusal: {watch.lines}")
    finally:
        assert watch.end() == 130
    off = [line for line in watch.lines if "live updates off" in line]
    assert off == ["live updates off (the server refused the event stream: The API key has been "
                   f"revoked); polling every {POLL:g} s"], watch.lines


def polled(site: Site) -> int:
    """Polling requests (the newest event) begun so far."""
    return sum(1 for _, path in site.server.started() if path.endswith("/events?limit=1"))


def source(word: str) -> str:
    """A valid prompt file whose template holds ``word``."""
    return prompt_source(f"Hello {{{{ name }}}}, {word}.")


def settled(site: Site) -> int:
    """The number of requests begun once none has begun for a poll interval."""
    count = len(site.server.started())
    quiet_since = time.monotonic()

    def still() -> bool:
        nonlocal count, quiet_since
        now = len(site.server.started())
        if now != count:
            count, quiet_since = now, time.monotonic()
        return time.monotonic() - quiet_since >= POLL * 2

    wait_until(still, 10, "the server log to stay still")
    return count


def newest_event(site: Site) -> int:
    response = site.other.get("/projects/demo/events", params={"limit": 1})
    assert response.status_code == 200, response.text
    return int(response.json()["events"][0]["id"])
