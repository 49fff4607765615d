"""Gap-free version numbers and one prompt per slug under concurrent pushers."""

from __future__ import annotations

import threading

import pytest

from tests.support.app import GREETING

PUSHERS = 8
PUSHES_EACH = 50


def _run_threads(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def wrapped(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(index)
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a pusher thread hung"
    return errors


@pytest.mark.slow
def test_concurrent_pushers_get_exactly_versions_1_to_400(app, account):
    statuses: list[int] = []

    def pusher(index: int) -> None:
        client = app.test_client()
        for n in range(PUSHES_EACH):
            source = GREETING + f"# pusher {index} change {n}\n"
            response = client.post("/api/v1/projects/demo/prompts/hot/prompt",
                                   json={"source": source}, headers=account.headers("editor"))
            statuses.append(response.status_code)

    assert _run_threads(pusher, PUSHERS) == []
    assert statuses.count(201) == PUSHERS * PUSHES_EACH
    numbers = []
    cursor = ""
    client = app.test_client()
    while True:
        page = client.get(f"/api/v1/projects/demo/prompts/hot/prompt/-/versions?limit=1000{cursor}",
                          headers=account.headers("viewer")).get_json()
        numbers += [v["version"] for v in page["versions"]]
        if not page["next"]:
            break
        cursor = f"&cursor={page['next']}"
    assert sorted(numbers) == list(range(1, PUSHERS * PUSHES_EACH + 1))


def test_concurrent_creation_of_one_new_slug_makes_one_prompt(app, account):
    statuses: list[int] = []

    def creator(_: int) -> None:
        response = app.test_client().post("/api/v1/projects/demo/prompts/brand/new",
                                          json={"source": GREETING},
                                          headers=account.headers("editor"))
        statuses.append(response.status_code)

    assert _run_threads(creator, PUSHERS) == []
    assert sorted(statuses) == [200] * (PUSHERS - 1) + [201]
    listing = app.test_client().get("/api/v1/projects/demo/prompts",
                                    headers=account.headers("viewer")).get_json()
    assert [(p["slug"], p["version"]) for p in listing["prompts"]] == [("brand/new", 1)]
