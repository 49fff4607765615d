"""Client(live=True) against a real gunicorn gthread server (SPEC §12): it learns of changes made
by another key from the event stream, get() sends nothing in steady state, it resumes by
Last-Event-ID after a dropped connection, falls back to ETag/TTL while the stream is down, and a
program that never closes it still exits at once. Requests are counted in the server's access
log, which names each request's user agent and Last-Event-ID. The tests that ride on how events
reach the stream run on Postgres too (tests/support/per_backend.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from promptsync import Client
from promptsync.client.live import LiveStream
from promptsync.errors import ApiError
from tests.support.live import create_account, create_key, free_port, key_client
from tests.support.logged_gunicorn import LoggedGunicorn
from tests.support.per_backend import site_fixtures
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery"


@dataclass
class Site:
    server: LoggedGunicorn
    reader: str  # the live client's key (viewer)
    editor: httpx.Client  # another key, pushing and moving labels

    def push(self, slug: str, text: str) -> int:
        response = self.editor.post(f"/projects/demo/prompts/{slug}",
                                    json={"source": f"template: {text}\n"})
        assert response.status_code == 201, response.text
        return int(response.json()["version"])

    def move(self, slug: str, label: str, version: int) -> None:
        response = self.editor.put(f"/projects/demo/prompts/{slug}/-/labels/{label}",
                                   json={"version": version})
        assert response.status_code == 200, response.text

    def newest_event(self) -> int:
        response = self.editor.get("/projects/demo/events", params={"limit": 1})
        assert response.status_code == 200, response.text
        return int(response.json()["events"][0]["id"])

    def client(self, url: str | None = None, **kw: object) -> Client:
        return Client(url or self.server.url, self.reader, "demo", live=True, **kw)  # type: ignore[arg-type]


def _site(server: LoggedGunicorn) -> Site:
    create_account(server.url, "ann@example.com", PASSWORD, "demo")
    reader = create_key(server.url, "ann@example.com", PASSWORD, "demo", role="viewer")
    editor_key = create_key(server.url, "ann@example.com", PASSWORD, "demo", role="admin")
    return Site(server, reader, key_client(server.url, editor_key))


sites, site, any_site = site_fixtures("live-client", _site, lambda site: site.editor.close())


def test_sees_a_label_move_by_another_key_without_a_get_request(any_site: Site) -> None:
    site = any_site
    site.push("greet", "one")
    two = site.push("greet", "two")
    site.move("greet", "production", 1)
    with site.client() as client:
        wait_until(lambda: client.live, 10, "the event stream is up")
        assert client.get("greet", label="production").version == 1
        wait_until(lambda: site.server.sdk_gets("greet") == 1, 5, "the first GET of greet")
        for _ in range(50):  # steady state: answered from memory
            assert client.get("greet", label="production").version == 1
        site.move("greet", "production", two)
        # The stream's thread refetches once; get() itself sends nothing, before or after.
        wait_until(lambda: client.get("greet", label="production").version == two, 10,
                   "the client sees the move")
        for _ in range(50):
            assert client.get("greet", label="production").version == two
        wait_until(lambda: site.server.sdk_gets("greet") == 2, 5,
                   lambda: f"one refetch, no GET from get(): {site.server.sdk_gets('greet')}")


def test_resumes_by_last_event_id_after_a_drop_and_catches_up(any_site: Site) -> None:
    site = any_site
    site.push("farewell", "one")
    site.push("other", "one")
    proxy = TcpProxy("127.0.0.1", site.server.port)
    client = site.client(f"http://127.0.0.1:{proxy.port}")
    try:
        wait_until(lambda: client.live, 10, "the event stream is up")
        assert client.get("farewell").version == 1
        assert client.get("other").version == 1
        site.push("other", "two")  # an event the stream sees: its id is where it resumes
        wait_until(lambda: client.get("other").version == 2, 10, "the push reached the client")
        seen = site.newest_event()
        # Each fetched once; other again after the push.
        wait_until(lambda: (site.server.sdk_gets("farewell"), site.server.sdk_gets("other"))
                   == (1, 2), 5, "the GETs before the drop")

        proxy.down()  # the connection is cut, and new ones refused
        wait_until(lambda: not client.live, 10, "the client saw the stream drop")
        site.push("farewell", "three")  # while the client cannot hear
        four = site.push("farewell", "four")
        proxy.up()

        wait_until(lambda: client.get("farewell").version == four, 15,
                   "the replayed events refetched farewell")
        assert client.live
        # Resumed, not started afresh: only the prompt the missed events name is asked again.
        wait_until(lambda: site.server.sdk_gets("farewell") >= 2, 5, "farewell refetched")
        assert site.server.sdk_gets("other") == 2
    finally:
        client.close()
        proxy.down()
    # The reconnect said where it had stopped (logged when the stream ends).
    wait_until(lambda: any(p.endswith("/events/stream") and last == str(seen)
                           for _, p, last, _ in site.server.requests()), 10,
               lambda: f"a stream resumed from {seen}: {site.server.requests()[-6:]}")


def test_falls_back_to_etag_revalidation_while_the_stream_is_down(site: Site) -> None:
    site.push("fallback", "one")
    proxy = TcpProxy("127.0.0.1", site.server.port)
    client = site.client(f"http://127.0.0.1:{proxy.port}", ttl=0)
    try:
        wait_until(lambda: client.live, 10, "the event stream is up")
        assert client.get("fallback").version == 1
        assert client.get("fallback").version == 1  # ttl=0, but the stream is up: no request
        wait_until(lambda: site.server.sdk_gets("fallback") == 1, 5, "fetched once")
        # The next stream request reaches the server, but its answer never reaches the client.
        hold = proxy.hold_next(b"GET /api/v1/projects/demo/events/stream", answer=True)
        proxy.down()
        proxy.up()
        hold.holding.wait(15)
        assert hold.holding.is_set() and not client.live
        assert client.get("fallback").version == 1  # ttl=0: revalidated (a 304)
        # (the access log line is written just after the answer is sent)
        wait_until(lambda: site.server.sdk_gets("fallback") == 2, 5, "one revalidation")
        site.push("fallback", "two")
        assert client.get("fallback").version == 2  # seen by asking, with the stream gone
    finally:
        client.close()
        proxy.down()


def test_a_revoked_key_is_raised_by_the_next_get_not_hidden_by_the_cache(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    """The stream's refusal (SPEC §12) reaches the application at once: live_error holds it,
    and get() asks the server again (within the TTL) and raises its 401, pinned versions too."""
    site.push("revoked", "one")
    response = site.editor.post("/projects/demo/keys", json={"name": "doomed", "role": "viewer"})
    assert response.status_code == 201, response.text
    key_id, key = response.json()["id"], response.json()["key"]
    with Client(site.server.url, key, "demo", live=True, ttl=300) as client:
        wait_until(lambda: client.live, 10, "the event stream is up")
        assert client.get("revoked").version == 1
        assert client.get("revoked", label=None, version=1).version == 1
        assert client.live_error is None
        response = site.editor.delete(f"/projects/demo/keys/{key_id}")
        assert response.status_code == 204, response.text
        wait_until(lambda: client.live_error is not None, 15, "the stream's refusal")
        error = client.live_error
        assert error is not None and (error.status, error.code, error.detail) == (
            401, "unauthorized", "The API key has been revoked.")
        assert not client.live
        for fetch in (lambda: client.get("revoked"), lambda: client.get("revoked", version=1)):
            with pytest.raises(ApiError) as raised:
                fetch()
            assert (raised.value.status, raised.value.detail) == (
                401, "The API key has been revoked.")
    assert any("live updates off" in r.getMessage() and r.name == "promptsync.client.sdk"
               for r in caplog.records), caplog.text


def test_a_404_ends_the_reader_for_good(site: Site) -> None:
    """A server without streams (here: a project the key cannot see) is not asked again."""
    ups: list[bool] = []
    stream = LiveStream(f"{site.server.url}/api/v1/projects/nope/events/stream",
                        {"X-API-Key": site.reader}, lambda e: None, ups.append, lambda: None)
    try:
        wait_until(lambda: not stream.alive, 10, "the reader gave up")
        assert "404" in (stream.ended or "")
        # The server's refusal, as a GET raises it.
        assert stream.error is not None
        assert (stream.error.status, stream.error.code, stream.error.detail) == (
            404, "not_found", "No project 'nope'.")
        assert ups == [] and stream.delays == []  # never up, no reconnect
    finally:
        stream.close()


def test_backoff_doubles_while_the_server_refuses() -> None:
    waits: list[float] = []
    streams: list[LiveStream] = []
    made = threading.Event()

    def sleep(seconds: float) -> None:  # the seam: no real waiting, stop after six
        waits.append(seconds)
        if len(waits) == 6:
            made.wait(10)  # the thread may get here before the constructor has returned
            streams[0].close()

    port = free_port()  # nothing listens there: every connection is refused
    streams.append(LiveStream(f"http://127.0.0.1:{port}/api/v1/events/stream", {},
                              lambda e: None, lambda r: None, lambda: None, sleep=sleep,
                              base_delay=0.5, max_delay=4.0))
    made.set()
    wait_until(lambda: not streams[0].alive, 10, "the stream thread ends after close()")
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_program_that_never_closes_its_live_client_exits_at_once(site: Site,
                                                                   tmp_path: Path) -> None:
    site.push("exit", "one")
    script = textwrap.dedent(f"""
        from promptsync import Client
        import time
        client = Client({site.server.url!r}, {site.reader!r}, "demo", live=True)
        assert client.get("exit").version == 1
        deadline = time.monotonic() + 10
        while not client.live and time.monotonic() < deadline:
            time.sleep(0.01)
        print("live" if client.live else "not live", flush=True)
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, cwd=tmp_path)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "live"
    assert "Traceback" not in done.stderr and "Fatal" not in done.stderr, done.stderr
    assert took < 8, f"the interpreter took {took:.1f} s to exit"
