"""Tests for promptsync.sync.pull against a corrupt or malicious server: the real app, with one
prompt's answer broken (tests/support/hostile.py); that prompt is reported, the others pulled."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.format.prompt import source_sha256
from promptsync.sync.engine import SyncEngine
from promptsync.sync.pull import SOURCE_IN_MANIFEST_FROM, PullOutcome, PullReport
from tests.support.app import IN_PROCESS, Account
from tests.support.hostile import Hostile, answer
from tests.support.live import prompt_source

BROKEN = "b"


def _version(text: str, **changes: object) -> bytes:
    body: dict[str, object] = {"slug": BROKEN, "version": 1, "sha256": source_sha256(text),
                               "source": text, **changes}
    return json.dumps(body).encode()


# How the server can fail to give one prompt, class by class.
BREAKAGES: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "500 error body": lambda r: answer(500, b'{"error": "internal_error", "detail": "boom"}'),
    "500 html": lambda r: answer(500, b"<h1>Internal Server Error</h1>", "text/html"),
    "404": lambda r: answer(404, b'{"error": "not_found", "detail": "No prompt \'b\'"}'),
    "invalid json": lambda r: answer(200, b'{"slug": "b", "source": '),
    "not an object": lambda r: answer(200, b'["template: x"]'),
    "html 200": lambda r: answer(200, b"<html>login</html>", "text/html"),
    "source not its hash": lambda r: answer(200, _version("template: x\n", sha256="0" * 64)),
    "source not text": lambda r: answer(200, _version("template: x\n", source=7)),
    "version not a number": lambda r: answer(200, _version(prompt_source(), version="1")),
    "lone surrogate": lambda r: answer(200, _version("template: \ud800\n")),
    "connection reset": lambda r: (_ for _ in ()).throw(
        httpx.RemoteProtocolError("Server disconnected", request=r)),
}


def _is_broken(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path.endswith(f"/prompts/{BROKEN}")


@pytest.fixture
def server(app: Flask) -> Hostile:
    return Hostile(app)


def engine_for(repo: Path, account: Account, transport: httpx.BaseTransport) -> SyncEngine:
    api = ApiClient(IN_PROCESS, account.keys["viewer"], transport=transport)
    return SyncEngine(read_repo_config(repo), api, account.project)


def seed(app: Flask, account: Account, slugs: list[str]) -> dict[str, str]:
    sources = {slug: prompt_source(f"{slug} {{{{ name }}}}") for slug in slugs}
    with ApiClient(IN_PROCESS, account.keys["editor"],
                   transport=httpx.WSGITransport(app=app)) as api:
        for slug, source in sources.items():
            api.push(account.project, slug, source)
    return sources


def pull(repo: Path, account: Account, server: Hostile) -> PullReport:
    engine = engine_for(repo, account, server)
    return engine.pull(engine.plan())


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_one_prompt_the_server_fails_to_give_is_reported_and_the_rest_pulled(
        app: Flask, account: Account, repo: Path, server: Hostile, breakage: str
) -> None:
    sources = seed(app, account, ["a", BROKEN, "c"])
    server.break_when, server.broken = _is_broken, BREAKAGES[breakage]
    report = pull(repo, account, server)
    outcomes = {r.slug: r.outcome for r in report.results}
    assert outcomes == {"a": PullOutcome.PULLED, BROKEN: outcomes[BROKEN],
                        "c": PullOutcome.PULLED}, report
    assert outcomes[BROKEN] != PullOutcome.PULLED and not report.ok and report.error is None
    failed = next(r for r in report.results if r.slug == BROKEN)
    assert failed.detail and "\n" not in failed.detail
    for slug in ("a", "c"):
        assert (repo / "prompts" / f"{slug}.yaml").read_text() == sources[slug]
    assert not (repo / "prompts" / f"{BROKEN}.yaml").exists()
    server.break_when = lambda request: False  # the server mends: the next pull takes it
    again = pull(repo, account, server)
    assert [(r.slug, r.outcome) for r in again.results] == [(BROKEN, PullOutcome.PULLED)]


@pytest.mark.parametrize("slug", ["evil\x00nul", "../escape", "inv\u202eexe", "a\nb", "UP"])
def test_a_slug_that_cannot_be_a_file_is_refused_without_a_request(
        app: Flask, account: Account, repo: Path, server: Hostile, slug: str
) -> None:
    seed(app, account, ["a", "zzhostilezz", "c"])
    server.text = slug
    report = pull(repo, account, server)
    outcomes = {r.slug: r.outcome for r in report.results}
    assert outcomes == {"a": PullOutcome.PULLED, slug: PullOutcome.REFUSED,
                        "c": PullOutcome.PULLED}, report
    assert sorted(p.name for p in (repo / "prompts").iterdir()) == ["a.yaml", "c.yaml"]


def test_a_server_gone_for_good_stops_the_pull_after_two_prompts(
        app: Flask, account: Account, repo: Path, server: Hostile
) -> None:
    seed(app, account, [f"p{n}" for n in range(6)])
    tried: list[str] = []

    def gone(request: httpx.Request) -> bool:
        if request.method == "GET" and "/prompts/p" in request.url.path:
            tried.append(request.url.path)
            return request.url.path.rsplit("/", 1)[1] >= "p2"
        return False

    server.break_when, server.broken = gone, BREAKAGES["connection reset"]
    report = pull(repo, account, server)
    outcomes = {r.slug: r.outcome for r in report.results}
    assert outcomes == {"p0": PullOutcome.PULLED, "p1": PullOutcome.PULLED,
                        "p2": PullOutcome.FAILED, "p3": PullOutcome.FAILED}, report
    assert report.error is not None and "cannot reach" in str(report.error)
    # p2 and p3 failed (each GET retried once on a dropped connection); p4 and p5 not tried
    assert {path.rsplit("/", 1)[1] for path in tried} == {"p0", "p1", "p2", "p3"}


def test_a_large_pull_skips_a_broken_item_of_the_manifest(
        app: Flask, account: Account, repo: Path, server: Hostile
) -> None:
    slugs = [f"p{n:02}" for n in range(SOURCE_IN_MANIFEST_FROM + 5)]
    seed(app, account, slugs)
    engine = engine_for(repo, account, server)
    plan = engine.plan()

    def with_source(request: httpx.Request) -> bool:
        return request.url.params.get("include") == "source"

    def broken_manifest(request: httpx.Request) -> httpx.Response:
        response = server.inner.handle_request(request)
        data = json.loads(response.read())
        data["prompts"][0] = "garbage"
        data["prompts"][1]["source"] += "tampered"
        return answer(200, json.dumps(data).encode())

    server.break_when, server.broken = with_source, broken_manifest
    report = engine.pull(plan)
    pulled = [r.slug for r in report.results if r.outcome == PullOutcome.PULLED]
    assert sorted(pulled) == slugs[2:] and report.error is None and not report.ok
    assert {r.slug for r in report.results if r.outcome != PullOutcome.PULLED} == set(slugs[:2])
