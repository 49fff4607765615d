"""An open event stream or long poll loses its caller's access (SPEC §12): a real server process
on SQLite and on Postgres (where the revocation's event reaches the stream by NOTIFY); the
stream ends with one `event: error` frame carrying the error a request would get, and the
client's reader treats it as final."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

import httpx
import pytest

from promptsync.client.live import LiveStream
from tests.support.live import LiveServer
from tests.support.sse import StreamReader
from tests.support.waiting import wait_until

PASSWORD = "correct horse battery"
# LIVE_RECHECK_SECONDS: how soon a dead session is noticed. Short, as the tests of the periodic
# check wait for it; still far longer than an event takes to reach the stream (the API's commit
# wakes the hub of its own process, and NOTIFY on Postgres: milliseconds), so a stream that did
# not check at an event about its caller would send that event before the next periodic check.
RECHECK = 0.25
KEEPALIVE = RECHECK / 2  # keep-alives count the recheck periods that passed
BOUND = 10.0  # s: a stream must end within this of losing access (a few rechecks and polls)
ENV = {"LIVE_KEEPALIVE_SECONDS": str(KEEPALIVE), "LIVE_POLL_SECONDS": "0.2",
       "LIVE_RECHECK_SECONDS": str(RECHECK)}
_names = count()


@dataclass
class User:
    """A signed-in user of a live server: their cookie client and its CSRF header."""

    email: str
    web: httpx.Client
    csrf: str

    def call(self, method: str, path: str, **kw: object) -> httpx.Response:
        return self.web.request(method, path, headers={"X-CSRF-Token": self.csrf}, **kw)  # type: ignore[arg-type]


@dataclass
class Site:
    server: LiveServer
    project: str
    owner: User
    opened: list[httpx.Client]

    def user(self, email: str, signup: bool = True) -> User:
        web = httpx.Client(base_url=self.server.url + "/api/v1", timeout=10)
        self.opened.append(web)
        if signup:
            response = web.post("/auth/signup", json={"email": email, "password": PASSWORD})
            assert response.status_code == 201, response.text
        response = web.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return User(email, web, response.json()["csrf_token"])

    def member(self, role: str = "viewer") -> User:
        """A new user who joined the project (invited by the owner, accepted)."""
        email = f"member{next(_names)}@example.com"
        user = self.user(email)
        response = self.owner.call("PUT", f"/projects/{self.project}/members/{email}",
                                   json={"role": role})
        assert response.status_code == 202, response.text
        invitation = response.json()["invitation"]["id"]
        response = user.call("POST", f"/invitations/{invitation}/accept")
        assert response.status_code == 200, response.text
        return user

    def key(self, role: str = "viewer") -> tuple[int, str]:
        """(id, plaintext) of a new key of the owner's."""
        response = self.owner.call("POST", f"/projects/{self.project}/keys",
                                   json={"name": f"k{next(_names)}", "role": role})
        assert response.status_code == 201, response.text
        return int(response.json()["id"]), str(response.json()["key"])

    def push(self, slug: str) -> None:
        response = self.owner.call("POST", f"/projects/{self.project}/prompts/{slug}",
                                   json={"source": f"template: {slug} {next(_names)}\n"})
        assert response.status_code == 201, response.text

    @property
    def stream_url(self) -> str:
        return f"{self.server.url}/api/v1/projects/{self.project}/events/stream"

    def stream(self, headers: dict[str, str]) -> StreamReader:
        reader = StreamReader(self.stream_url, headers)
        wait_until(lambda: "connected" in reader.received.comments, 10,
                   lambda: f"the stream to open: {reader.received}")
        return reader


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    """One server per backend; each test makes its own members and keys in one project."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    project = f"access{next(_names)}"  # the Postgres database is shared by other modules
    with LiveServer(tmp_path_factory.mktemp("access"), database_url=url, env=ENV) as server:
        site = Site(server, project, None, [])  # type: ignore[arg-type]
        site.owner = site.user(f"owner-{project}@example.com")
        response = site.owner.call("POST", "/projects", json={"slug": project, "name": "Access"})
        assert response.status_code == 201, response.text
        try:
            yield site
        finally:
            for web in site.opened:
                web.close()


def _ended_with(reader: StreamReader, status: int, detail: str) -> None:
    wait_until(lambda: reader.received.ended, BOUND,
               lambda: f"the stream to end after access was lost: {reader.received}")
    assert reader.received.errors == [
        {"error": "unauthorized" if status == 401 else "not_found", "detail": detail,
         "status": status}]


def test_a_revoked_key_ends_its_stream_before_another_event(site: Site) -> None:
    key_id, key = site.key()
    with site.stream({"X-API-Key": key}) as reader:
        site.push("before/revoke")
        wait_until(lambda: len(reader.received.events) == 1, 10, "the push on the stream")
        response = site.owner.call("DELETE", f"/projects/{site.project}/keys/{key_id}")
        assert response.status_code == 204, response.text
        _ended_with(reader, 401, "The API key has been revoked.")
    # The revocation's own event names the key: the check ran before it was sent.
    assert [e["action"] for e in reader.received.events] == ["version.created"]
    # As a new request is refused with the same words.
    again = httpx.get(site.stream_url, headers={"X-API-Key": key}, timeout=10)
    assert again.status_code == 401
    assert again.json()["detail"] == "The API key has been revoked."


def test_a_removed_members_session_stream_ends(site: Site) -> None:
    member = site.member()
    with site.stream({"Cookie": _cookie(member)}) as reader:
        response = site.owner.call("DELETE", f"/projects/{site.project}/members/{member.email}")
        assert response.status_code == 204, response.text
        _ended_with(reader, 404, f"No project '{site.project}'.")
    assert reader.received.events == []  # not even the removal


@pytest.mark.parametrize("ending", ["logout", "password"])
def test_a_stream_of_an_ended_session_ends(site: Site, ending: str) -> None:
    member = site.member()
    with site.stream({"Cookie": _cookie(member)}) as reader:
        other = site.user(member.email, signup=False)  # another session of the same account
        if ending == "logout":
            assert other.call("POST", "/auth/logout").status_code == 204
        else:
            assert other.call("POST", "/auth/password", json={
                "current_password": PASSWORD, "new_password": PASSWORD + "!"}).status_code == 204
        # Neither names a project (no event): the periodic check finds it.
        _ended_with(reader, 401, "Authentication required: send X-API-Key or log in.")


def test_a_key_whose_creator_left_ends_its_stream(site: Site) -> None:
    member = site.member("editor")
    response = member.call("POST", f"/projects/{site.project}/keys",
                           json={"name": "mine", "role": "viewer"})
    assert response.status_code == 201, response.text
    with site.stream({"X-API-Key": response.json()["key"]}) as reader:
        response = member.call("DELETE", f"/projects/{site.project}/members/{member.email}")
        assert response.status_code == 204, response.text
        _ended_with(reader, 401, "The API key has been revoked.")


def test_a_valid_stream_outlives_many_rechecks(site: Site) -> None:
    _, key = site.key()
    other_id, _ = site.key()  # revoked below: not this stream's key
    with site.stream({"X-API-Key": key}) as reader:
        keepalives = len(reader.received.comments)
        # Several recheck periods pass (two keep-alives each), and another key is revoked.
        assert site.owner.call("DELETE",
                               f"/projects/{site.project}/keys/{other_id}").status_code == 204
        wait_until(lambda: len(reader.received.comments) >= keepalives + 4 * RECHECK / KEEPALIVE,
                   20, "keep-alives over four recheck periods")
        site.push("still/here")
        wait_until(lambda: any(e["data"]["slug"] == "still/here"
                               for e in reader.received.events), 10, "the push")
        assert not reader.received.ended and reader.received.errors == []


def test_a_long_poll_of_a_revoked_key_answers_401(site: Site) -> None:
    key_id, key = site.key()
    answer: dict[str, httpx.Response] = {}
    asked = threading.Event()

    def poll() -> None:
        asked.set()
        answer["r"] = httpx.get(f"{site.server.url}/api/v1/projects/{site.project}/events",
                                params={"wait": 30}, headers={"X-API-Key": key}, timeout=40)

    thread = threading.Thread(target=poll)
    thread.start()
    asked.wait(5)
    # The poll is waiting once its request is in: the key's last_used_at was written by then.
    wait_until(lambda: _last_used(site, key_id), 10, "the long poll to arrive")
    assert site.owner.call("DELETE", f"/projects/{site.project}/keys/{key_id}").status_code == 204
    thread.join(BOUND + 5)
    assert not thread.is_alive(), "the long poll waited out its 30 s"
    assert answer["r"].status_code == 401
    assert answer["r"].json() == {"error": "unauthorized",
                                  "detail": "The API key has been revoked."}


def test_the_client_reader_stops_for_good_with_the_servers_error(site: Site) -> None:
    key_id, key = site.key()
    ups: list[bool] = []
    downs: list[None] = []
    stream = LiveStream(site.stream_url, {"X-API-Key": key}, lambda e: None, ups.append,
                        lambda: downs.append(None))
    try:
        wait_until(lambda: stream.up, 10, "the reader is up")
        assert site.owner.call("DELETE",
                               f"/projects/{site.project}/keys/{key_id}").status_code == 204
        wait_until(lambda: not stream.alive, BOUND, "the reader to stop")
        assert stream.error is not None
        assert (stream.error.status, stream.error.code, stream.error.detail) == (
            401, "unauthorized", "The API key has been revoked.")
        assert ups == [False] and len(downs) == 1 and stream.delays == []  # no reconnect
    finally:
        stream.close()


def _cookie(user: User) -> str:
    return "; ".join(f"{name}={value}" for name, value in user.web.cookies.items())


def _last_used(site: Site, key_id: int) -> bool:
    keys = site.owner.call("GET", f"/projects/{site.project}/keys").json()["keys"]
    return any(k["id"] == key_id and k.get("last_used_at") for k in keys)

