"""Renames through the real app on SQLite and Postgres: a push item naming `renamed_from`
archives the old slug and creates the new one in one transaction, or changes nothing."""

from __future__ import annotations

from typing import Any

from tests.support.app import GREETING
from tests.support.lifecycle import API, Lab


def rename(lab: Lab, old: str, new: str, source: str | None = None, **body: Any) -> Any:
    if source is None:
        source = lab.client().get(f"{API}/{old}?version=1",
                                  headers=lab.account.headers("viewer")).get_json()["source"]
    return lab.client().post(f"{API}/{new}", json={"source": source, "renamed_from": old, **body},
                             headers=lab.account.headers("editor"))


def test_a_rename_archives_the_old_slug_and_creates_the_new_one(lab: Lab) -> None:
    old = lab.prompt(versions=2, staging=2)
    new = lab.slug()
    renamed = rename(lab, old, new, renamed_from_version=2, message="moved")
    assert renamed.status_code == 201, renamed.get_json()
    body = renamed.get_json()
    assert (body["slug"], body["version"], body["renamed_from"], body["labels"]) == (
        new, 1, f"{old}@v2", [])
    web, viewer = lab.client(), lab.account.headers("viewer")
    # The new slug answers everywhere with renamed_from: the fast path, the project route, the
    # history; the old one is archived (410 by latest, 200 by number), its label removed.
    for url in (f"/api/v1/prompts/{new}", f"{API}/{new}", f"{API}/{new}?version=1"):
        assert web.get(url, headers=viewer).get_json()["renamed_from"] == f"{old}@v2"
    history = web.get(f"{API}/{new}/-/versions", headers=viewer).get_json()["versions"]
    assert [(v["version"], v["renamed_from"], v["message"]) for v in history] == [
        (1, f"{old}@v2", "moved")]
    assert web.get(f"{API}/{old}", headers=viewer).status_code == 410
    assert web.get(f"{API}/{old}?version=2", headers=viewer).get_json()["renamed_from"] is None
    manifest = lab.manifest()
    assert new in manifest and old not in manifest
    assert lab.manifest("&include=archived")[old]["archived_at"] is not None
    assert lab.events(old)[-2:] == [
        ("label.removed", {"label": "staging", "previous": 2, "reason": "archived"}),
        ("prompt.archived", {"version": 2, "labels": {"staging": 2}, "forced": False,
                             "renamed_to": new}),
    ]
    assert lab.events(new) == [
        ("version.created", {"version": 1, "sha256": body["sha256"]}),
        ("prompt.renamed", {"version": 1, "renamed_from": f"{old}@v2", "from": old,
                            "from_version": 2}),
    ]
    # The same rename sent again (its answer lost): it landed, so 200 with the version, no error.
    again = rename(lab, old, new, renamed_from_version=2)
    assert again.status_code == 200 and again.get_json()["version"] == 1


def test_a_refused_rename_changes_nothing(lab: Lab) -> None:
    protected = lab.prompt(versions=1, production=1)
    moved_on = lab.prompt(versions=3)
    taken, target = lab.prompt(versions=1), lab.slug()
    before = lab.manifest("&include=archived")
    cases = [
        (protected, target, {}, 409, "protected_label"),
        (moved_on, target, {"renamed_from_version": 2}, 409, "conflict"),
        (taken, moved_on, {}, 409, "conflict"),  # the new slug exists and is live
        ("no/such", target, {}, 404, "not_found"),
        (taken, taken, {}, 400, "bad_request"),
        (taken, target, {"renamed_from_version": 0}, 400, "bad_request"),
    ]
    for old, new, extra, status, code in cases:
        refused = rename(lab, old, new, GREETING + "# renamed\n", **extra)
        assert refused.status_code == status, (old, new, refused.get_json())
        assert refused.get_json()["error"] == code
    assert lab.manifest("&include=archived") == before  # no new slug, nothing archived
    conflict = rename(lab, moved_on, target, renamed_from_version=2)
    assert conflict.get_json()["latest_version"] == 3
    # An archived old slug is gone: a rename from it is a 404 like an archive of it.
    assert lab.client().delete(f"{API}/{taken}",
                               headers=lab.account.headers("editor")).status_code == 204
    gone = rename(lab, taken, target, GREETING + "# renamed\n")
    assert gone.status_code == 404


def test_a_rename_onto_an_archived_slug_restores_it_with_the_next_version(lab: Lab) -> None:
    old, new = lab.prompt(versions=1), lab.prompt(versions=2)
    assert lab.client().delete(f"{API}/{new}",
                               headers=lab.account.headers("editor")).status_code == 204
    renamed = rename(lab, old, new)
    assert renamed.status_code == 201
    assert (renamed.get_json()["version"], renamed.get_json()["renamed_from"]) == (3, f"{old}@v1")
    assert lab.manifest()[new]["archived_at"] is None and old not in lab.manifest()
    assert [a for a, _ in lab.events(new)][-3:] == [
        "version.created", "prompt.restored", "prompt.renamed"]


def test_renames_in_a_batch(lab: Lab) -> None:
    """After `git mv a b` and a new file at a: the rename archives a first, then the new a is
    pushed (and restores it); a refused rename is that item's result, the others are stored."""
    a, b = lab.prompt(versions=1), lab.slug()
    blocked, elsewhere = lab.prompt(versions=1, production=1), lab.slug()
    source_a = lab.client().get(f"{API}/{a}", headers=lab.account.headers("viewer")
                                ).get_json()["source"]
    items = [
        {"slug": a, "source": GREETING + "# the new a\n"},
        {"slug": b, "source": source_a, "renamed_from": a, "renamed_from_version": 1},
        {"slug": elsewhere, "source": GREETING, "renamed_from": blocked},
        {"slug": b, "source": source_a + "# then edited\n"},
    ]
    results = lab.client().post(API, json={"prompts": items},
                                headers=lab.account.headers("editor")).get_json()["results"]
    assert [(r["slug"], r["status"], r.get("version"), r.get("error")) for r in results] == [
        (a, "created", 2, None),
        (b, "created", 1, None),
        (elsewhere, "conflict", None, "protected_label"),
        (b, "created", 2, None),
    ]
    assert results[1]["renamed_from"] == f"{a}@v1" and results[0]["renamed_from"] is None
    assert results[2]["labels"] == ["production"]
    manifest = lab.manifest()
    assert {a, b, blocked} <= set(manifest) and elsewhere not in manifest
    assert [x for x, _ in lab.events(a)][-3:] == [
        "prompt.archived", "version.created", "prompt.restored"]
