"""A body key that nearly names a field (expected_verison) is a 400 with "did you mean", and
nothing happens: ignored, it would drop what the caller asked for (a compare-and-set skipped).
A key unlike any field is still ignored, so a client that sends more than the API knows works."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support.app import GREETING, GREETING_URL, make_account

LABEL_URL = f"{GREETING_URL}/-/labels/staging"
NEAR_MISSES = [
    # (method, url, body, the key, the field it nearly names)
    ("PUT", LABEL_URL, {"version": 2, "expected_verison": 1}, "expected_verison",
     "expected_version"),
    ("PUT", LABEL_URL, {"version": 2, "Reason": "why"}, "Reason", "reason"),
    ("POST", GREETING_URL, {"source": GREETING + "# 3\n", "parent_versoin": 1},
     "parent_versoin", "parent_version"),
    ("POST", GREETING_URL, {"source": GREETING + "# 3\n", "messages": "m"}, "messages",
     "message"),
    ("POST", f"{GREETING_URL}/-/render", {"variable": {"topic": "x"}}, "variable", "variables"),
    ("POST", "/api/v1/projects/demo/keys", {"name": "ci", "role": "viewer", "rolle": "admin"},
     "rolle", "role"),
]


def _seed(app: Flask) -> dict[str, str]:
    """demo/support/greeting at versions 1 and 2, staging on 1; the admin key's headers."""
    account = make_account(app)
    client, admin = app.test_client(), account.headers("admin")
    for n in (1, 2):
        assert client.post(GREETING_URL, json={"source": GREETING + f"# {n}\n"},
                           headers=admin).status_code == 201
    assert client.put(LABEL_URL, json={"version": 1}, headers=admin).status_code == 200
    return admin


def _state(app: Flask, admin: dict[str, str]) -> tuple[Any, ...]:
    client = app.test_client()
    versions = client.get(f"{GREETING_URL}/-/versions", headers=admin).get_json()["versions"]
    keys = client.get("/api/v1/projects/demo/keys", headers=admin).get_json()["keys"]
    return (len(versions), versions[0]["labels"], len(keys))


@pytest.mark.parametrize(("method", "url", "body", "key", "field"), NEAR_MISSES,
                         ids=[case[3] for case in NEAR_MISSES])
def test_a_near_miss_key_is_refused_naming_the_field(
        sqlite_app: Flask, method: str, url: str, body: dict[str, Any], key: str,
        field: str) -> None:
    admin = _seed(sqlite_app)
    before = _state(sqlite_app, admin)
    answer = sqlite_app.test_client().open(url, method=method, json=body, headers=admin)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json() == {
        "error": "bad_request", "field": key,
        "detail": f"Unknown field '{key}': did you mean '{field}'?"}
    assert _state(sqlite_app, admin) == before


def test_a_near_miss_inside_git_names_its_path(sqlite_app: Flask) -> None:
    admin = _seed(sqlite_app)
    body = {"source": GREETING + "# 3\n", "git": {"branch": "main", "dirrty": True}}
    answer = sqlite_app.test_client().post(GREETING_URL, json=body, headers=admin)
    assert answer.status_code == 400
    assert answer.get_json()["field"].startswith("git")


def test_a_key_unlike_any_field_is_still_ignored(sqlite_app: Flask) -> None:
    admin = _seed(sqlite_app)
    client = sqlite_app.test_client()
    moved = client.put(LABEL_URL, json={"version": 2, "client": "ci-bot/1.2"}, headers=admin)
    assert moved.status_code == 200, moved.get_json()
    pushed = client.post(GREETING_URL, json={"source": GREETING + "# 3\n", "trace_id": "abc"},
                         headers=admin)
    assert pushed.status_code == 201, pushed.get_json()


def test_a_batch_item_with_a_near_miss_is_refused_alone(sqlite_app: Flask) -> None:
    admin = _seed(sqlite_app)
    items = [{"slug": "good", "source": GREETING},
             {"slug": "typo", "source": GREETING, "parent_verion": 0}]
    answer = sqlite_app.test_client().post("/api/v1/projects/demo/prompts",
                                           json={"prompts": items}, headers=admin)
    assert answer.status_code == 200, answer.get_json()
    good, typo = answer.get_json()["results"]
    assert good["status"] == "created"
    assert (typo["status"], typo["field"]) == ("error", "parent_verion")
    assert "did you mean 'parent_version'" in typo["detail"]
