"""Archive (DELETE), restore and push-to-archived through the real app on SQLite and Postgres:
410 for the latest or a label, 200 by number, the manifest with and without archived prompts,
protected labels, compare-and-swap, roles, events, and an archive racing a push."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.app import GREETING, login
from tests.support.lifecycle import API, Lab
from tests.support.racing import race


def assert_archived(response: Any) -> None:
    assert response.status_code == 410, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "archived" and "archived" in body["detail"]


def test_delete_archives_the_prompt(lab: Lab) -> None:
    slug = lab.prompt(versions=2, staging=1)
    other = lab.prompt(versions=1)
    web, editor = lab.client(), lab.account.headers("editor")
    response = web.delete(f"{API}/{slug}", headers=editor)
    assert response.status_code == 204 and response.data == b""
    # Latest and label: 410, on the project route and the key's shorthand (the fast path's
    # territory), with a key and with If-None-Match; a version by number still answers.
    for url in (f"{API}/{slug}", f"/api/v1/prompts/{slug}"):
        assert_archived(web.get(url, headers=editor))
        assert_archived(web.get(f"{url}?label=staging", headers=editor))
        assert_archived(web.get(url, headers={**editor, "If-None-Match": '"' + "0" * 64 + '"'}))
        pinned = web.get(f"{url}?version=1", headers=editor)
        assert pinned.status_code == 200 and pinned.get_json()["version"] == 1
    assert_archived(web.post(f"{API}/{slug}/-/render", json={"variables": {"topic": "x"}},
                             headers=editor))
    rendered = web.post(f"{API}/{slug}/-/render", json={"variables": {"topic": "x"}, "version": 2},
                        headers=editor)
    assert rendered.status_code == 200
    history = web.get(f"{API}/{slug}/-/versions", headers=editor).get_json()["versions"]
    assert [(v["version"], v["labels"]) for v in history] == [(2, []), (1, [])]
    assert web.get(f"{API}/{slug}/-/diff?from=1&to=2", headers=editor).status_code == 200
    # No label can be set on it while it is archived.
    assert_archived(web.put(f"{API}/{slug}/-/labels/staging", json={"version": 1},
                            headers=editor))
    # The manifest: gone, unless asked for, and then with archived_at.
    assert slug not in lab.manifest() and lab.manifest()[other]["archived_at"] is None
    listed = lab.manifest("&include=archived")
    assert listed[slug]["archived_at"].endswith("Z") and listed[slug]["version"] == 2
    assert listed[slug]["labels"] == {} and listed[other]["archived_at"] is None
    both = lab.manifest("&include=archived,source")[slug]
    assert both["source"].endswith(f"# {slug} 2\n")
    # Archiving it again: the prompt is gone (404).
    again = web.delete(f"{API}/{slug}", headers=editor)
    assert again.status_code == 404 and again.get_json()["error"] == "not_found"
    assert lab.events(slug)[-2:] == [
        ("label.removed", {"label": "staging", "previous": 1, "reason": "archived"}),
        ("prompt.archived", {"version": 2, "labels": {"staging": 1}, "forced": False}),
    ]


def test_unknown_prompts_and_bad_arguments(lab: Lab) -> None:
    web, editor = lab.client(), lab.account.headers("editor")
    assert web.delete(f"{API}/no/such", headers=editor).status_code == 404
    assert web.post(f"{API}/no/such/-/restore", headers=editor).status_code == 404
    slug = lab.prompt(versions=1)
    for query in ("?force=maybe", "?expected_version=-1", "?expected_version=x"):
        response = web.delete(f"{API}/{slug}{query}", headers=editor)
        assert response.status_code == 400, query
    assert slug in lab.manifest()


def test_a_protected_label_blocks_the_archive_unless_an_admin_forces_it(lab: Lab) -> None:
    slug = lab.prompt(versions=2, production=1, staging=2)
    web = lab.client()
    for role in ("editor", "admin"):
        refused = web.delete(f"{API}/{slug}", headers=lab.account.headers(role))
        assert refused.status_code == 409
        body = refused.get_json()
        assert body["error"] == "protected_label" and body["labels"] == ["production"]
        assert "'production' (v1)" in body["detail"]
    forced_by_editor = web.delete(f"{API}/{slug}?force=true", headers=lab.account.headers("editor"))
    assert forced_by_editor.status_code == 403
    assert slug in lab.manifest() and lab.manifest()[slug]["labels"] == {
        "production": 1, "staging": 2}
    forced = web.delete(f"{API}/{slug}?force=true", headers=lab.account.headers("admin"))
    assert forced.status_code == 204
    assert slug not in lab.manifest()
    assert lab.events(slug)[-3:] == [
        ("label.removed", {"label": "production", "previous": 1, "reason": "archived"}),
        ("label.removed", {"label": "staging", "previous": 2, "reason": "archived"}),
        ("prompt.archived", {"version": 2, "labels": {"production": 1, "staging": 2},
                             "forced": True}),
    ]


def test_expected_version_makes_the_archive_a_compare_and_swap(lab: Lab) -> None:
    slug = lab.prompt(versions=2)
    web, editor = lab.client(), lab.account.headers("editor")
    stale = web.delete(f"{API}/{slug}?expected_version=1", headers=editor)
    assert stale.status_code == 409
    assert stale.get_json()["error"] == "conflict" and stale.get_json()["latest_version"] == 2
    assert slug in lab.manifest()
    assert web.delete(f"{API}/{slug}?expected_version=2", headers=editor).status_code == 204


@pytest.mark.parametrize("route", ["project", "shorthand"])
def test_roles(lab: Lab, route: str) -> None:
    slug = lab.prompt(versions=1)
    base = f"{API}/{slug}" if route == "project" else f"/api/v1/prompts/{slug}"
    web = lab.client()
    viewer, editor = lab.account.headers("viewer"), lab.account.headers("editor")
    assert web.delete(base, headers=viewer).status_code == 403
    assert web.delete(base, headers=editor).status_code == 204
    assert web.post(f"{base}/-/restore", headers=viewer).status_code == 403
    assert web.post(f"{base}/-/restore", headers=editor).status_code == 200
    assert web.delete(base).status_code == 401


def test_restore_brings_it_back_without_its_labels(lab: Lab) -> None:
    slug = lab.prompt(versions=2, staging=1)
    web, editor = lab.client(), lab.account.headers("editor")
    live = web.post(f"{API}/{slug}/-/restore", headers=editor)
    assert live.status_code == 409 and live.get_json()["error"] == "conflict"
    assert web.delete(f"{API}/{slug}", headers=editor).status_code == 204
    restored = web.post(f"{API}/{slug}/-/restore", headers=editor)
    assert restored.status_code == 200
    body = restored.get_json()
    assert (body["slug"], body["version"], body["labels"], body["renamed_from"]) == (
        slug, 2, [], None)
    assert web.get(f"{API}/{slug}", headers=editor).get_json()["version"] == 2
    assert web.get(f"{API}/{slug}?label=staging", headers=editor).status_code == 404
    assert lab.manifest()[slug]["archived_at"] is None
    assert lab.events(slug)[-1] == ("prompt.restored", {"version": 2})


def test_a_push_to_an_archived_prompt_restores_it_with_the_next_version(lab: Lab) -> None:
    web, editor = lab.client(), lab.account.headers("editor")
    single, batched = lab.prompt(versions=2), lab.prompt(versions=1)
    for slug in (single, batched):
        assert web.delete(f"{API}/{slug}", headers=editor).status_code == 204
    # The very bytes of the latest version: not "unchanged", a new version that restores it.
    same = web.get(f"{API}/{single}?version=2", headers=editor).get_json()["source"]
    pushed = web.post(f"{API}/{single}", json={"source": same, "parent_version": 2},
                      headers=editor)
    assert pushed.status_code == 201 and pushed.get_json()["version"] == 3
    assert web.get(f"{API}/{single}", headers=editor).get_json()["version"] == 3
    results = web.post(API, json={"prompts": [{"slug": batched, "source": GREETING + "# new\n"}]},
                       headers=editor).get_json()["results"]
    assert [(r["status"], r["version"]) for r in results] == [("created", 2)]
    assert {single, batched} <= set(lab.manifest())
    assert lab.events(single)[-2:] == [
        ("version.created", {"version": 3, "sha256": pushed.get_json()["sha256"]}),
        ("prompt.restored", {"version": 3, "by": "push"}),
    ]


ROUNDS = 6


def test_an_archive_racing_a_push(lab: Lab) -> None:
    """Whichever lands first, nothing is lost: a push after an archive restores the prompt with
    the next number; an archive with expected_version after the push is a 409; an archive
    without one after the push archives the new version. Numbers stay gapless."""
    editor = lab.account.headers("editor")
    slug = lab.prompt(versions=1)
    for n in range(1, ROUNDS + 1):
        cas = n % 2 == 1
        query = f"?expected_version={n}" if cas else ""
        archive, push = race(
            lambda q=query: lab.client().delete(f"{API}/{slug}{q}", headers=editor).status_code,
            lambda n=n: lab.client().post(f"{API}/{slug}", headers=editor, json={
                "source": GREETING + f"# race {n}\n", "parent_version": n}).status_code)
        assert push == 201, "a push is never lost to an archive"
        actions = [a for a, _ in lab.events(slug) if a in ("prompt.archived", "version.created")]
        archived_last = actions[-1] == "prompt.archived"
        if archive == 409:
            assert cas and not archived_last, "only a stale expected_version refuses the archive"
        else:
            assert archive == 204
        live = web_get(lab, slug)
        assert (live == 410) == archived_last, (n, archive, actions[-3:])
        if archived_last:  # archived after the push: bring it back for the next round
            assert lab.client().post(f"{API}/{slug}/-/restore", headers=editor).status_code == 200
    versions = lab.client().get(f"{API}/{slug}/-/versions",
                                headers=editor).get_json()["versions"]
    assert [v["version"] for v in versions] == list(range(ROUNDS + 1, 0, -1))


def web_get(lab: Lab, slug: str) -> int:
    return lab.client().get(f"{API}/{slug}", headers=lab.account.headers("viewer")).status_code


def test_an_export_and_import_keep_archives_and_renames(lab: Lab) -> None:
    editor = lab.account.headers("editor")
    archived, old, new = lab.prompt(versions=2), lab.prompt(versions=1), lab.slug()
    web = lab.client()
    assert web.delete(f"{API}/{archived}", headers=editor).status_code == 204
    source = web.get(f"{API}/{old}", headers=editor).get_json()["source"]
    assert web.post(f"{API}/{new}", json={"source": source, "renamed_from": old},
                    headers=editor).status_code == 201
    export = web.get("/api/v1/projects/demo/export", headers=lab.account.headers("admin"))
    document = export.get_json()
    by_slug = {p["slug"]: p for p in document["prompts"]}
    assert by_slug[archived]["archived_at"] and by_slug[new]["archived_at"] is None
    assert by_slug[new]["versions"][0]["renamed_from"] == f"{old}@v1"

    session = lab.client()
    token = login(session, lab.account.email)
    copy = f"copy{next(lab.counter)}"
    assert session.post("/api/v1/projects", json={"slug": copy},
                        headers={"X-CSRF-Token": token}).status_code == 201
    imported = session.post(f"/api/v1/projects/{copy}/import", json=document,
                            headers={"X-CSRF-Token": token})
    assert imported.status_code == 201, imported.get_json()
    base = f"/api/v1/projects/{copy}/prompts"
    assert session.get(f"{base}/{archived}").status_code == 410
    assert session.get(f"{base}/{new}").get_json()["renamed_from"] == f"{old}@v1"
    listed = session.get(f"{base}?include=archived").get_json()["prompts"]
    assert {p["slug"]: p["archived_at"] for p in listed} == {
        p["slug"]: p["archived_at"] for p in document["prompts"]}
    # An archived prompt with labels, or a renamed_from of another shape, is not an export.
    for prompt, problem in ((dict(by_slug[archived], labels={"staging": 1}), "no labels"),
                            (dict(by_slug[new], versions=[dict(by_slug[new]["versions"][0],
                                                               renamed_from="x")]),
                             "renamed_from")):
        bad = dict(document, prompts=[prompt])
        refused = session.post(f"/api/v1/projects/{copy}/import", json=bad,
                               headers={"X-CSRF-Token": token})
        assert refused.status_code == 400 and problem in refused.get_json()["detail"]
