"""Tests for promptsync.client.retry and ApiBase's use of it: which failures and which requests
are sent again, how many times, the waits between (a recording sleeper: nothing sleeps here)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from promptsync.client.api import ApiClient
from promptsync.client.retry import ONCE_ON_STALE_CONNECTION, Retrying, RetryPolicy, retry_after
from promptsync.errors import ApiError, ServerUnreachable
from tests.support.fakes import GREETING_V1, SERVER, error

REFUSED = httpx.ConnectError("[Errno 111] Connection refused")
ANSWERS = {  # what the server or the network does to a request
    "refused": REFUSED,
    "connect timeout": httpx.ConnectTimeout("timed out"),
    "dropped": httpx.RemoteProtocolError("Server disconnected without sending a response."),
    "reset": httpx.ReadError("[Errno 104] Connection reset by peer"),
    "read timeout": httpx.ReadTimeout("timed out"),
    "unknown host": httpx.ConnectError("[Errno -2] Name or service not known"),
    "500": error(500, "internal", "boom"),
    "502": httpx.Response(502, text="<html>Bad Gateway</html>"),
    "503": error(503, "unavailable", "The database is unavailable; try again shortly."),
    "504": httpx.Response(504, text="Gateway Timeout"),
    "429": error(429, "rate_limited", "slow down"),
    "409": error(409, "conflict", "moved on"),
}
OK = {"prompts": [], "next": None, "user": None, "key": None, "projects": []}
WRITTEN = {"slug": "a", "version": 1, "results": [{"slug": "a", "status": "created", "version": 1}]}


class Rig:
    """An ApiClient over a script of answers, its sleeps and retry notices recorded."""

    def __init__(self, *script: str | httpx.Response, policy: RetryPolicy | None = None) -> None:
        self.script = list(script)
        self.sent: list[str] = []
        self.sleeps: list[float] = []
        self.notices: list[Retrying] = []
        base = policy or RetryPolicy()
        self.policy = RetryPolicy(base.attempts, base.base_delay, base.max_delay, base.statuses,
                                  base.errors, sleep=self.sleeps.append,
                                  on_retry=self.notices.append)
        self.api = ApiClient(SERVER, "psk_test", transport=httpx.MockTransport(self.handle),
                             retry=self.policy)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.method)
        step = self.script.pop(0) if self.script else "ok"
        if isinstance(step, httpx.Response):
            return step
        if step == "ok":
            status = 201 if request.method == "POST" else 200
            body = WRITTEN if request.method in ("POST", "PUT") else OK
            return httpx.Response(status, json=body)
        answer = ANSWERS[step]
        if isinstance(answer, Exception):
            raise answer
        return answer


CALLS: dict[str, Callable[[ApiClient], object]] = {
    "GET manifest": lambda api: api.manifest("demo"),
    "GET me": lambda api: api.me(),
    "POST push": lambda api: api.push("demo", "a", GREETING_V1),
    "POST batch push": lambda api: api.push_batch("demo", [{"slug": "a", "source": "x"}]),
    "PUT label": lambda api: api.set_label("demo", "a", "staging", 2, expected_version=1),
    "POST render": lambda api: api.render("demo", "a", {"topic": "x"}),
    "POST create key": lambda api: api.create_key("demo", "ci", "viewer"),
    "DELETE key": lambda api: api.delete_key("demo", 7),
    "POST login": lambda api: api.login("a@example.com", "pw"),
    "DELETE label": lambda api: api.delete_label("demo", "a", "staging"),
}
IDEMPOTENT = ["GET manifest", "GET me", "POST push", "POST batch push", "PUT label",
              "POST render"]
NOT_IDEMPOTENT = ["POST create key", "DELETE key", "POST login", "DELETE label"]


# --- the policy's arithmetic ----------------------------------------------------------------


def test_waits_double_from_a_quarter_second_until_the_attempts_run_out() -> None:
    policy = RetryPolicy()
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, None]
    long = RetryPolicy(attempts=10, max_delay=5.0)
    assert [long.delay(n) for n in range(1, 10)] == [0.25, 0.5, 1, 2, 4, 5, 5, 5, 5]
    assert long.delay(10) is None


def test_retry_after_is_honoured_up_to_the_cap_and_ends_the_retries_beyond_it() -> None:
    policy = RetryPolicy(max_delay=5.0)
    assert policy.delay(1, retry_after=2) == 2  # never earlier than the server asked
    assert policy.delay(3, retry_after=0) == 1.0  # nor earlier than the backoff
    assert policy.delay(1, retry_after=5) == 5
    assert policy.delay(1, retry_after=6) is None  # longer than we wait: report it now
    assert policy.delay(4, retry_after=1) is None


def test_retry_after_header_values() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    clock = now.timestamp
    assert retry_after("7") == 7
    assert retry_after(" 0 ") == 0
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), clock) == 30
    assert retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), clock) == 0
    for value in (None, "", "soon", "-1", "1.5", "Mon, 99 Foo 2026"):
        assert retry_after(value) is None, value


# --- which requests, which failures --------------------------------------------------------


@pytest.mark.parametrize("call", IDEMPOTENT + NOT_IDEMPOTENT)
@pytest.mark.parametrize("failure", ["refused", "connect timeout"])
def test_a_request_that_never_left_is_sent_again_whatever_it_is(call: str, failure: str) -> None:
    rig = Rig(failure, failure)
    CALLS[call](rig.api)
    assert len(rig.sent) == 3 and rig.sleeps == [0.25, 0.5]


@pytest.mark.parametrize("call", IDEMPOTENT)
@pytest.mark.parametrize("failure", ["dropped", "reset", "502", "503", "504"])
def test_an_idempotent_request_is_sent_again_after_it_may_have_arrived(call: str,
                                                                       failure: str) -> None:
    rig = Rig(failure, failure, failure)
    CALLS[call](rig.api)
    assert len(rig.sent) == 4 and rig.sleeps == [0.25, 0.5, 1.0]


@pytest.mark.parametrize("call", NOT_IDEMPOTENT)
@pytest.mark.parametrize("failure", ["dropped", "reset", "502", "503", "504"])
def test_any_other_write_is_not_sent_again_once_it_may_have_arrived(call: str,
                                                                    failure: str) -> None:
    rig = Rig(failure)
    with pytest.raises((ServerUnreachable, ApiError)):
        CALLS[call](rig.api)
    assert len(rig.sent) == 1 and rig.sleeps == [] and rig.notices == []


@pytest.mark.parametrize("failure", ["500", "429", "409", "read timeout", "unknown host"])
def test_other_failures_are_answers_not_retried(failure: str) -> None:
    rig = Rig(failure)
    with pytest.raises((ServerUnreachable, ApiError)):
        rig.api.manifest("demo")
    assert len(rig.sent) == 1 and rig.sleeps == []


# --- running out, Retry-After, notices ------------------------------------------------------


def test_after_the_last_attempt_the_failure_says_how_many_were_made() -> None:
    rig = Rig(*["503"] * 4)
    with pytest.raises(ApiError) as info:
        rig.api.push("demo", "a", GREETING_V1)
    assert (info.value.status, info.value.attempts) == (503, 4)
    assert rig.sleeps == [0.25, 0.5, 1.0]
    rig = Rig(*["refused"] * 4)
    with pytest.raises(ServerUnreachable, match="connection refused after 4 attempts$"):
        rig.api.push("demo", "a", GREETING_V1)
    rig = Rig("refused", policy=RetryPolicy(attempts=1))
    with pytest.raises(ServerUnreachable, match="connection refused$"):
        rig.api.me()


def test_retry_after_sets_the_wait_and_a_long_one_ends_the_retries() -> None:
    asked = error(503, "unavailable", "wait")
    asked.headers["Retry-After"] = "2"
    rig = Rig(asked, asked)
    rig.api.me()
    assert rig.sleeps == [2, 2]  # not 0.25, 0.5: never before the server said
    later = error(503, "unavailable", "maintenance")
    later.headers["Retry-After"] = "3600"
    rig = Rig(later)
    with pytest.raises(ApiError) as info:
        rig.api.me()
    assert rig.sleeps == [] and info.value.attempts == 1 and info.value.body["retry_after"] == 3600


def test_each_retry_is_announced_before_its_wait() -> None:
    rig = Rig("refused", "503")
    rig.api.push("demo", "greeting/a", GREETING_V1)
    assert rig.notices == [
        Retrying("POST", "/projects/demo/prompts/greeting/a", "connection refused", 2, 4, 0.25),
        Retrying("POST", "/projects/demo/prompts/greeting/a", "503 unavailable", 3, 4, 0.5),
    ]


def test_the_library_default_retries_only_a_stale_kept_alive_connection_at_once() -> None:
    rig = Rig("dropped", policy=ONCE_ON_STALE_CONNECTION)
    rig.api.manifest("demo")
    assert rig.sent == ["GET", "GET"] and rig.sleeps == [0.0]
    for failure in ("refused", "503", "reset"):
        rig = Rig(failure, policy=ONCE_ON_STALE_CONNECTION)
        with pytest.raises((ServerUnreachable, ApiError)):
            rig.api.manifest("demo")
        assert rig.sent == ["GET"], failure
    rig = Rig("dropped", policy=ONCE_ON_STALE_CONNECTION)
    with pytest.raises(ServerUnreachable):
        rig.api.create_key("demo", "ci", "viewer")
    assert rig.sent == ["POST"]
    assert ApiClient(SERVER).retry is ONCE_ON_STALE_CONNECTION
