"""A label move or removal never leaves an include unresolved (SPEC §11, §13): a label is not
pointed at a version whose include does not resolve now (409 ``broken_include``), and a partial's
label is not removed or moved under the prompts that include it by that label (409 ``included``,
naming them as an archive does), on SQLite and Postgres."""

from __future__ import annotations

from typing import Any

from promptsync.protocol import REFUSAL_CODES
from tests.support.lifecycle import API, Lab
from tests.support.racing import race


def text(template: str) -> str:
    return f"template: '{template}'\n"


CHAT = "messages:\n  - role: user\n    content: Hello.\n"


def put(lab: Lab, slug: str, name: str, version: int, **body: Any) -> Any:
    return lab.client().put(f"{API}/{slug}/-/labels/{name}", json={"version": version, **body},
                            headers=lab.account.headers("admin"))


def remove(lab: Lab, slug: str, name: str) -> Any:
    return lab.client().delete(f"{API}/{slug}/-/labels/{name}",
                               headers=lab.account.headers("admin"))


def fetch(lab: Lab, slug: str, name: str) -> Any:
    return lab.client().get(f"{API}/{slug}", query_string={"label": name},
                            headers=lab.account.headers("viewer"))


def archive(lab: Lab, slug: str) -> Any:
    return lab.client().delete(f"{API}/{slug}", headers=lab.account.headers("editor"))


def test_a_label_is_not_moved_onto_a_version_that_includes_an_archived_prompt(lab: Lab) -> None:
    style, app = lab.slug(), lab.slug()
    lab.push(style, text("Be brief."))
    lab.push(app, text(f"A {{{{> {style} }}}}"))  # v1 includes the style
    lab.push(app, text("A, plain."))  # v2 does not
    assert put(lab, app, "production", 2).status_code == 200
    assert archive(lab, style).status_code == 204  # nothing live includes it now

    refused = put(lab, app, "production", 1)  # a rollback to v1 would break production
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "broken_include" and REFUSAL_CODES["broken_include"] == 409
    assert body["chain"] == [app, style]
    assert body["detail"] == (
        f"Cannot point 'production' of '{app}' at v1: its include of '{style}' would not "
        f"resolve ({style} is archived: {app} -> {style}); restore '{style}', or point "
        "'production' at a version without that include.")
    assert fetch(lab, app, "production").get_json()["version"] == 2  # nothing moved
    assert put(lab, app, "staging", 1).status_code == 409  # a new label neither

    restored = lab.client().post(f"{API}/{style}/-/restore", headers=lab.account.headers("editor"))
    assert restored.status_code == 200, restored.get_json()
    assert put(lab, app, "production", 1).status_code == 200
    assert fetch(lab, app, "production").status_code == 200


def test_a_label_is_not_moved_onto_a_version_naming_a_missing_label(lab: Lab) -> None:
    style, app = lab.slug(), lab.slug()
    lab.push(style, text("Be brief."))
    put(lab, style, "beta", 1)
    lab.push(app, text(f"A {{{{> {style}@beta }}}}"))
    assert remove(lab, style, "beta").status_code == 409  # app's latest names it
    lab.push(app, text("A, plain."))  # v2: now nothing names style@beta
    assert remove(lab, style, "beta").status_code == 204

    refused = put(lab, app, "qa", 1)
    assert refused.status_code == 409 and refused.get_json()["error"] == "broken_include"
    assert f"({style}@beta does not exist: {app} -> {style})" in refused.get_json()["detail"]


def test_removing_a_label_that_others_include_by_name_is_refused(lab: Lab) -> None:
    style, app, other, plain = lab.slug(), lab.slug(), lab.slug(), lab.slug()
    lab.push(style, text("Be brief."))
    put(lab, style, "beta", 1)
    put(lab, style, "unused", 1)
    lab.push(app, text(f"A {{{{> {style}@beta }}}}"))
    put(lab, app, "production", 1)
    lab.push(app, text("A, plain."))  # latest v2 includes nothing; production v1 names @beta
    lab.push(other, text(f"O {{{{> {style} }}}}"))  # the default include: never by 'beta'
    lab.push(plain, text(f"P {{{{> {style}@1 }}}}"))

    # /-/dependents says who includes it and by which refs; removing 'beta' breaks one of them.
    listed = lab.client().get(f"{API}/{style}/-/dependents", headers=lab.account.headers("viewer"))
    latest_v1 = [{"ref": "latest", "version": 1}]
    assert listed.get_json()["dependents"] == sorted([
        {"slug": app, "via": [{"ref": "production", "version": 1}]},
        {"slug": other, "via": latest_v1}, {"slug": plain, "via": latest_v1}],
        key=lambda use: str(use["slug"]))
    refused = remove(lab, style, "beta")
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "included" and body["dependents"] == [app]
    assert body["via"] == {app: [{"ref": "production", "version": 1}]}
    assert body["detail"] == (
        f"Cannot remove 'beta' from '{style}': it is included by '{app}' (production v1), whose "
        f"fetch would then fail ({style}@beta does not exist: {app} -> {style}); point those "
        "includes elsewhere, or move those labels, first.")
    assert fetch(lab, app, "production").get_json()["version"] == 1
    assert fetch(lab, style, "beta").status_code == 200  # the label stays

    # A label nothing names goes; so does 'beta' once production no longer holds it.
    assert remove(lab, style, "unused").status_code == 204
    put(lab, app, "production", 2)
    assert remove(lab, style, "beta").status_code == 204


def test_removing_a_label_a_default_include_follows_falls_back_to_latest(lab: Lab) -> None:
    style, app = lab.slug(), lab.slug()
    lab.push(style, text("Be brief."))
    lab.push(style, text("Be very brief."))
    put(lab, style, "production", 1)
    lab.push(app, text(f"A {{{{> {style} }}}}"))
    put(lab, app, "production", 1)
    assert remove(lab, style, "production").status_code == 204  # {{> style }}: its latest now
    rendered = lab.client().post(f"{API}/{app}/-/render",
                                 json={"variables": {}, "label": "production"},
                                 headers=lab.account.headers("viewer"))
    assert rendered.get_json()["text"] == "A Be very brief."


def test_moving_a_partials_label_onto_what_cannot_be_included_is_refused(lab: Lab) -> None:
    style, app = lab.slug(), lab.slug()
    lab.push(style, text("Be brief."))
    lab.push(style, CHAT)  # v2: a chat prompt, which no template can include
    put(lab, style, "beta", 1)
    lab.push(app, text(f"A {{{{> {style}@beta }}}}"))
    refused = put(lab, style, "beta", 2)
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "included" and body["via"] == {app: [{"ref": "latest",
                                                                    "version": 1}]}
    assert body["detail"].startswith(f"Cannot point 'beta' of '{style}' at v2: it is included by "
                                     f"'{app}' (latest v1), whose fetch would then fail (")
    assert fetch(lab, style, "beta").get_json()["version"] == 1


def test_a_label_move_that_closes_an_include_cycle_is_refused(lab: Lab) -> None:
    a, b = lab.slug(), lab.slug()
    lab.push(a, text("A alone."))
    put(lab, a, "beta", 1)
    lab.push(b, text("B alone."))
    put(lab, b, "beta", 1)
    lab.push(b, text(f"B {{{{> {a}@beta }}}}"))  # v2: fine while a@beta is v1
    lab.push(a, text(f"A {{{{> {b}@beta }}}}"))  # v2: fine while b@beta is v1
    refused = put(lab, b, "beta", 2)  # a's latest would be a -> b@beta -> a@beta: a cycle
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "included" and body["via"] == {a: [{"ref": "latest", "version": 2}]}
    assert f"(include cycle: {a} -> {b} -> {a})" in body["detail"]
    assert fetch(lab, b, "beta").get_json()["version"] == 1


def test_an_includer_still_archives_with_its_labels(lab: Lab) -> None:
    style, app = lab.slug(), lab.slug()
    lab.push(style, text("Be brief."))
    put(lab, style, "beta", 1)
    lab.push(app, text(f"A {{{{> {style}@beta }}}}"))
    put(lab, app, "qa", 1)
    assert archive(lab, app).status_code == 204
    assert remove(lab, style, "beta").status_code == 204  # nothing live holds it now


def test_an_archive_and_a_move_onto_an_includer_never_both_pass(lab: Lab) -> None:
    for _ in range(5):
        style, app = lab.slug(), lab.slug()
        lab.push(style, text("Be brief."))
        lab.push(app, text(f"A {{{{> {style} }}}}"))
        lab.push(app, text("A, plain."))
        put(lab, app, "production", 2)
        archived, moved = race(lambda s=style: archive(lab, s),
                               lambda s=app: put(lab, s, "production", 1))
        assert sorted([archived.status_code, moved.status_code]) in ([200, 409], [204, 409]), (
            archived.get_json(), moved.get_json())
        assert fetch(lab, app, "production").status_code == 200
