"""Prompt versions over HTTP: push, fetch, caching headers, history, diff, labels, render."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.app import GREETING, Account

BASE = "/api/v1/projects/demo/prompts"
CHAT = """\
messages:
  - {role: system, content: "You are a support agent."}
  - {role: user, content: "{{ question }}"}
"""


def push(client: FlaskClient, account: Account, slug: str, source: str, **extra: object):
    return client.post(f"{BASE}/{slug}", json={"source": source, **extra},
                       headers=account.headers("editor"))


def test_push_creates_numbered_versions_and_skips_identical_bytes(client, account):
    first = push(client, account, "support/greeting", GREETING, message="first")
    assert first.status_code == 201
    body = first.get_json()
    assert (body["version"], body["type"], body["message"]) == (1, "text", "first")
    assert body["author"] == "ann@example.com"
    assert body["source"] == GREETING
    again = push(client, account, "support/greeting", GREETING)
    assert again.status_code == 200
    assert again.get_json()["version"] == 1
    changed = push(client, account, "support/greeting", GREETING + "# a comment is a change\n")
    assert changed.status_code == 201
    assert changed.get_json()["version"] == 2


def test_crlf_and_lf_sources_hash_the_same(client, account):
    assert push(client, account, "a", GREETING).status_code == 201
    crlf = push(client, account, "a", GREETING.replace("\n", "\r\n"))
    assert crlf.status_code == 200


def test_stale_parent_version_is_a_conflict_and_writes_nothing(client, account):
    push(client, account, "p", GREETING)
    push(client, account, "p", GREETING + "# 2\n", parent_version=1)
    stale = push(client, account, "p", GREETING + "# mine\n", parent_version=1)
    assert stale.status_code == 409
    assert stale.get_json()["latest_version"] == 2
    new_only = push(client, account, "p", GREETING + "# other\n", parent_version=0)
    assert new_only.status_code == 409
    versions = client.get(f"{BASE}/p/-/versions", headers=account.headers("viewer")).get_json()
    assert [v["version"] for v in versions["versions"]] == [2, 1]


def test_invalid_source_is_422_with_line_numbers(client, account):
    bad = push(client, account, "bad", "template: hi\ntemplate: again\n")
    assert bad.status_code == 422
    body = bad.get_json()
    assert body["error"] == "invalid_prompt"
    assert body["problems"][0]["line"] == 2
    assert client.get(f"{BASE}/bad", headers=account.headers("viewer")).status_code == 404


def test_fetch_by_version_label_and_latest_with_cache_headers(client, account):
    push(client, account, "support/greeting", GREETING)
    push(client, account, "support/greeting", GREETING + "# v2\n")
    viewer = account.headers("viewer")
    latest = client.get(f"{BASE}/support/greeting", headers=viewer)
    assert latest.get_json()["version"] == 2
    assert latest.headers["Cache-Control"] == "private, no-cache"
    pinned = client.get(f"{BASE}/support/greeting?version=1", headers=viewer)
    assert pinned.get_json()["version"] == 1
    assert pinned.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert pinned.headers["ETag"] == f'"{pinned.get_json()["sha256"]}"'
    revalidated = client.get(f"{BASE}/support/greeting?version=1",
                             headers={**viewer, "If-None-Match": pinned.headers["ETag"]})
    assert revalidated.status_code == 304
    assert revalidated.data == b""
    stale_etag = client.get(f"{BASE}/support/greeting",
                            headers={**viewer, "If-None-Match": pinned.headers["ETag"]})
    assert stale_etag.status_code == 200
    assert client.get(f"{BASE}/support/greeting?version=9", headers=viewer).status_code == 404
    both = client.get(f"{BASE}/support/greeting?version=1&label=x", headers=viewer)
    assert both.status_code == 400


def test_labels_move_with_compare_and_swap_and_production_is_admin_only(client, account):
    push(client, account, "g", GREETING)
    push(client, account, "g", GREETING + "# v2\n")
    editor, admin = account.headers("editor"), account.headers("admin")
    url = f"{BASE}/g/-/labels"
    assert client.put(f"{url}/staging", json={"version": 1}, headers=editor).status_code == 200
    moved = client.put(f"{url}/staging", json={"version": 2, "expected_version": 1},
                       headers=editor)
    assert moved.get_json() == {"slug": "g", "label": "staging", "version": 2, "previous": 1}
    lost = client.put(f"{url}/staging", json={"version": 1, "expected_version": 1}, headers=editor)
    assert lost.status_code == 409
    assert client.put(f"{url}/production", json={"version": 1}, headers=editor).status_code == 403
    assert client.put(f"{url}/production", json={"version": 1}, headers=admin).status_code == 200
    assert client.put(f"{url}/production", json={"version": 7}, headers=admin).status_code == 404
    fetched = client.get(f"{BASE}/g?label=production", headers=editor).get_json()
    assert (fetched["version"], fetched["labels"]) == (1, ["production"])
    assert client.delete(f"{url}/staging", headers=editor).status_code == 204
    assert client.get(f"{BASE}/g?label=staging", headers=editor).status_code == 404
    actions = [e["action"] for e in client.get("/api/v1/projects/demo/events",
                                               headers=editor).get_json()["events"]]
    assert actions[:4] == ["label.removed", "label.moved", "label.moved", "label.moved"]


def test_manifest_lists_every_prompt_with_labels_and_pages(client, account):
    for i in range(5):
        push(client, account, f"folder/p{i}", GREETING)
    viewer = account.headers("viewer")
    client.put(f"{BASE}/folder/p1/-/labels/staging", json={"version": 1},
               headers=account.headers("editor"))
    first = client.get(f"{BASE}?limit=2", headers=viewer).get_json()
    assert [p["slug"] for p in first["prompts"]] == ["folder/p0", "folder/p1"]
    assert first["prompts"][1]["labels"] == {"staging": 1}
    assert "source" not in first["prompts"][0]
    slugs = [p["slug"] for p in first["prompts"]]
    cursor = first["next"]
    while cursor:
        page = client.get(f"{BASE}?limit=2&cursor={cursor}&include=source", headers=viewer)
        body = page.get_json()
        assert all(p["source"] == GREETING for p in body["prompts"])
        slugs += [p["slug"] for p in body["prompts"]]
        cursor = body["next"]
    assert slugs == [f"folder/p{i}" for i in range(5)]


def test_batch_push_judges_each_item_alone(client, account):
    items = [
        {"slug": "a", "source": GREETING},
        {"slug": "b", "source": "template: hi\nbogus: 1\n"},
        {"slug": "a", "source": GREETING},
        {"slug": "c", "source": GREETING, "parent_version": 3},
    ]
    response = client.post(BASE, json={"prompts": items}, headers=account.headers("editor"))
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["created", "invalid", "unchanged", "conflict"]
    assert results[1]["problems"][0]["line"] == 2


def test_diff_and_render(client, account):
    push(client, account, "g", GREETING)
    push(client, account, "g", GREETING.replace("Hello", "Hi"))
    push(client, account, "chat", CHAT)
    viewer = account.headers("viewer")
    diff = client.get(f"{BASE}/g/-/diff?from=1&to=2", headers=viewer).get_json()
    assert "-  Hello {{ name }}" in diff["diff"] and "+  Hi {{ name }}" in diff["diff"]
    text = client.post(f"{BASE}/g/-/render", json={"variables": {"topic": "billing"},
                                                   "version": 1}, headers=viewer)
    assert text.get_json()["text"] == "Hello there, thanks for asking about billing.\n"
    chat = client.post(f"{BASE}/chat/-/render", json={"variables": {"question": "Why?"}},
                       headers=viewer).get_json()
    assert chat["messages"][1] == {"role": "user", "content": "Why?"}
    strict = client.post(f"{BASE}/g/-/render", json={"variables": {"topc": "x"}}, headers=viewer)
    assert strict.status_code == 422
    assert strict.get_json()["missing"] == ["topic"] and strict.get_json()["unknown"] == ["topc"]


def test_key_scoped_shorthand_uses_the_keys_project(client, account):
    push(client, account, "support/greeting", GREETING)
    response = client.get("/api/v1/prompts/support/greeting?version=1",
                          headers={"Authorization": f"Bearer {account.keys['viewer']}"})
    assert response.status_code == 200
    assert response.get_json()["project"] == "demo"
    listing = client.get("/api/v1/prompts", headers=account.headers("viewer")).get_json()
    assert [p["slug"] for p in listing["prompts"]] == ["support/greeting"]


def test_render_refuses_values_that_are_not_text_or_numbers(client, account):
    push(client, account, "g", GREETING)
    response = client.post(f"{BASE}/g/-/render", json={"variables": {"topic": {"a": 1}}},
                           headers=account.headers("viewer"))
    # An untyped variable takes text or numbers; anything else is a 422 naming it (SPEC §13).
    assert response.status_code == 422
    assert "declare its type" in response.get_json()["invalid"]["topic"]
    numeric = client.post(f"{BASE}/g/-/render", json={"variables": {"topic": 42}},
                          headers=account.headers("viewer"))
    assert numeric.get_json()["text"] == "Hello there, thanks for asking about 42.\n"


def test_diff_against_version_zero_is_a_404_not_a_crash(client, account):
    push(client, account, "g", GREETING)
    response = client.get(f"{BASE}/g/-/diff?from=0&to=0", headers=account.headers("viewer"))
    assert response.status_code == 404
    first = client.get(f"{BASE}/g/-/diff", headers=account.headers("viewer")).get_json()
    assert first["from"] == 0 and "+template: |" in first["diff"]


def test_not_found_answers_name_the_missing_prompt_version_or_label(client, account):
    push(client, account, "g", GREETING)
    viewer, editor = account.headers("viewer"), account.headers("editor")
    key_base = "/api/v1/prompts"  # the key-scoped fetch, which falls back to the general path
    cases = [
        (client.get(f"{BASE}/nope", headers=viewer), "No prompt 'nope' in project 'demo'."),
        (client.get(f"{key_base}/nope?label=x", headers=viewer),
         "No prompt 'nope' in project 'demo'."),
        (client.get(f"{BASE}/Bad", headers=viewer),
         "No prompt 'Bad': the path segment 'Bad' must start with a lowercase letter or digit "
         "and contain only a-z, 0-9, '.', '_' and '-'."),
        (client.get(f"{BASE}/g?version=9", headers=viewer), "'g' has no version 9."),
        (client.get(f"{key_base}/g?version=9", headers=viewer), "'g' has no version 9."),
        (client.get(f"{BASE}/g?label=x", headers=viewer), "No label 'x' on 'g'."),
        (client.get(f"{key_base}/g?label=x", headers=viewer), "No label 'x' on 'g'."),
        (client.post(f"{BASE}/g/-/render", json={"version": 9}, headers=viewer),
         "'g' has no version 9."),
        (client.post(f"{BASE}/g/-/render", json={"label": "x"}, headers=viewer),
         "No label 'x' on 'g'."),
        (client.get(f"{BASE}/g/-/diff?to=9", headers=viewer), "'g' has no version 8."),
        (client.get(f"{BASE}/g/-/diff?to=99999999999", headers=viewer),
         "'g' has no version 99999999999."),
        (client.get(f"{BASE}/g/-/diff?from=x", headers=viewer), "No label 'x' on 'g'."),
        (client.get(f"{BASE}/g/-/diff?from=0&to=0", headers=viewer), "'g' has no version 0."),
        (client.put(f"{BASE}/g/-/labels/staging", json={"version": 9}, headers=editor),
         "'g' has no version 9."),
        (client.delete(f"{BASE}/g/-/labels/staging", headers=editor),
         "No label 'staging' on 'g'."),
    ]
    assert [(r.status_code, r.get_json()["detail"]) for r, _ in cases] == [
        (404, detail) for _, detail in cases
    ]
