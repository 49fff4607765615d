"""A partial is in use while a live prompt's latest version or a version one of its labels points
at includes it (SPEC §13): /-/dependents lists it, and neither an archive nor a rename may take
it away (409 ``included`` naming each includer and by which ref), on SQLite and Postgres."""

from __future__ import annotations

from typing import Any

from tests.support.lifecycle import API, Lab


def text(template: str) -> str:
    return f"template: '{template}'\n"


def dependents(lab: Lab, slug: str) -> list[str]:
    listed = lab.client().get(f"{API}/{slug}/-/dependents",
                              headers=lab.account.headers("viewer"))
    assert listed.status_code == 200, listed.get_json()
    return [item["slug"] for item in listed.get_json()["dependents"]]


def label(lab: Lab, slug: str, name: str, version: int) -> None:
    moved = lab.client().put(f"{API}/{slug}/-/labels/{name}", json={"version": version},
                             headers=lab.account.headers("admin"))
    assert moved.status_code == 200, moved.get_json()


def archive(lab: Lab, slug: str) -> Any:
    return lab.client().delete(f"{API}/{slug}", headers=lab.account.headers("editor"))


def rename(lab: Lab, old: str, new: str, source: str, version: int) -> Any:
    return lab.client().post(f"{API}/{new}", json={
        "source": source, "renamed_from": old, "renamed_from_version": version,
    }, headers=lab.account.headers("editor"))


def included(lab: Lab, source: str) -> tuple[str, str]:
    """A new partial pushed as ``source`` and a new prompt including it ('A {{> partial }}'):
    their slugs."""
    style, app = lab.slug(), lab.slug()
    lab.push(style, source)
    lab.push(app, text(f"A {{{{> {style} }}}}"))
    return style, app


def test_a_labelled_version_that_includes_it_counts(lab: Lab) -> None:
    style, app, other = lab.slug(), lab.slug(), lab.slug()
    lab.push(style, text("Be brief."))
    lab.push(app, text(f"Answer. {{{{> {style} }}}}"))
    label(lab, app, "production", 1)
    label(lab, app, "staging", 1)
    lab.push(app, text("Answer, without the style."))  # v2, latest: includes nothing
    lab.push(other, text(f"Other {{{{> {style}@1 }}}}"))
    label(lab, other, "qa", 1)
    assert dependents(lab, style) == sorted([app, other])

    refused = archive(lab, style)
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "included" and body["dependents"] == sorted([app, other])
    assert body["via"] == {app: [{"ref": "production", "version": 1},
                                 {"ref": "staging", "version": 1}],
                           other: [{"ref": "latest", "version": 1},
                                   {"ref": "qa", "version": 1}]}
    assert f"'{app}' (production v1, staging v1)" in body["detail"]
    assert "move their labels to versions without it" in body["detail"]
    # production still renders with the style: nothing was archived.
    rendered = lab.client().post(f"{API}/{app}/-/render",
                                 json={"variables": {}, "label": "production"},
                                 headers=lab.account.headers("viewer"))
    assert rendered.get_json()["text"] == "Answer. Be brief."

    # Labels moved off, the other includer changed: it is no longer in use, and archives.
    label(lab, app, "production", 2)
    label(lab, app, "staging", 2)
    assert dependents(lab, style) == [other]
    lab.push(other, text("Other, alone."))
    label(lab, other, "qa", 2)
    assert dependents(lab, style) == []
    assert archive(lab, style).status_code == 204


def test_an_archived_includer_does_not_hold_it(lab: Lab) -> None:
    style, app = included(lab, text("Be brief."))
    assert archive(lab, app).status_code == 204  # its labels go with it
    assert dependents(lab, style) == []
    assert archive(lab, style).status_code == 204


def test_renaming_an_included_partial_is_refused(lab: Lab) -> None:
    source = text("Be brief.")
    style, app = included(lab, source)
    new = lab.slug()
    refused = rename(lab, style, new, source, 1)
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "included" and body["dependents"] == [app]
    assert body["detail"] == (
        f"Cannot rename '{style}': it is included by '{app}' (latest v1); keep '{style}' "
        "until nothing includes it: push the new name beside it, point the includes at the "
        f"new name, then delete '{style}'.")
    # Nothing happened: the old slug is live, the new one does not exist, the includer renders.
    manifest = lab.manifest()
    assert style in manifest and new not in manifest
    assert lab.client().post(f"{API}/{app}/-/render", json={"variables": {}},
                             headers=lab.account.headers("viewer")).get_json()["text"] == (
        "A Be brief.")

    # The way the refusal points to: the new name beside the old, the includes moved, then the
    # old one goes.
    lab.push(new, source)
    lab.push(app, text(f"A {{{{> {new} }}}}"))
    assert archive(lab, style).status_code == 204


def test_a_rename_of_a_partial_only_an_archived_prompt_included_goes_through(lab: Lab) -> None:
    source = text("Be kind.")
    style, app = included(lab, source)
    new = lab.slug()
    assert archive(lab, app).status_code == 204
    renamed = rename(lab, style, new, source, 1)
    assert renamed.status_code == 201, renamed.get_json()
    assert renamed.get_json()["renamed_from"] == f"{style}@v1"
