"""Partials through the real app on SQLite and Postgres (SPEC §13): render resolves latest,
label and version includes; a push making a cycle or naming a missing prompt is refused naming
the chain; /-/dependents; archiving an included prompt is refused naming its includers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text as sql_text

from promptsync.protocol import REFUSAL_CODES
from tests.support.lifecycle import API, Lab
from tests.support.racing import race
from webapi.extensions import db


def text(template: str) -> str:
    return f"template: '{template}'\n"


def post(lab: Lab, slug: str, source: str, role: str = "editor") -> Any:
    return lab.client().post(f"{API}/{slug}", json={"source": source},
                             headers=lab.account.headers(role))


def render(lab: Lab, slug: str, **body: Any) -> Any:
    return lab.client().post(f"{API}/{slug}/-/render", json={"variables": {}, **body},
                             headers=lab.account.headers("viewer"))


def test_render_resolves_latest_label_and_version(lab: Lab) -> None:
    tone, outer = lab.slug(), lab.slug()
    lab.push(tone, text("Be brief."))
    lab.push(tone, text("Be kind, {{ name }}."))
    moved = lab.client().put(f"{API}/{tone}/-/labels/staging", json={"version": 1},
                             headers=lab.account.headers("admin"))
    assert moved.status_code == 200
    lab.push(outer, text(f"A {{{{> {tone} }}}} | {{{{> {tone}@1 }}}} | {{{{> {tone}@staging }}}}"))
    answer = render(lab, outer, variables={"name": "Ann"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["text"] == "A Be kind, Ann. | Be brief. | Be brief."
    # The included prompt's variables joined the contract: leaving one out is a 422.
    missing = render(lab, outer)
    assert missing.status_code == 422 and missing.get_json()["missing"] == ["name"]
    # A change to the partial reaches the includer at its next render.
    lab.push(tone, text("Be warm, {{ name }}."))
    assert render(lab, outer, variables={"name": "Bo"}).get_json()["text"].startswith(
        "A Be warm, Bo.")


def test_default_include_follows_the_render_label(lab: Lab) -> None:
    tone, outer = lab.slug(), lab.slug()
    lab.push(tone, text("one"))
    lab.push(tone, text("two"))
    lab.push(outer, text(f"[{{{{> {tone} }}}}]"))
    admin = lab.account.headers("admin")
    for slug, number in ((tone, 1), (outer, 1)):
        assert lab.client().put(f"{API}/{slug}/-/labels/staging", json={"version": number},
                                headers=admin).status_code == 200
    assert render(lab, outer, label="staging").get_json()["text"] == "[one]"
    assert render(lab, outer).get_json()["text"] == "[two]"


def test_escaped_include_stays_literal(lab: Lab) -> None:
    slug = lab.slug()
    lab.push(slug, text("x \\{{> nothing }} y"))
    assert render(lab, slug).get_json()["text"] == "x {{> nothing }} y"


def test_push_refuses_a_three_prompt_cycle_naming_it(lab: Lab) -> None:
    a, b, c = lab.slug(), lab.slug(), lab.slug()
    lab.push(c, text("C"))
    lab.push(b, text(f"B {{{{> {c} }}}}"))
    lab.push(a, text(f"A {{{{> {b} }}}}"))
    refused = post(lab, c, text(f"C {{{{> {a} }}}}"))
    assert refused.status_code == 422, refused.get_json()
    body = refused.get_json()
    assert body["error"] == "invalid_prompt"
    assert f"{c} -> {a} -> {b} -> {c}" in body["detail"] and body["chain"] == [c, a, b, c]
    assert lab.manifest()[c]["version"] == 1  # nothing stored


def test_push_refuses_a_missing_target_and_a_cycle_within_one_batch(lab: Lab) -> None:
    a, b, partial, user = lab.slug(), lab.slug(), lab.slug(), lab.slug()
    missing = post(lab, a, text("{{> nowhere/at-all }}"))
    assert missing.status_code == 422
    assert f"{a} -> nowhere/at-all" in missing.get_json()["detail"]
    batch = lab.client().post(API, json={"prompts": [
        {"slug": a, "source": text(f"{{{{> {b} }}}}")},
        {"slug": b, "source": text(f"{{{{> {a} }}}}")},
        # An includer before its partial in one batch: the partial of the same push counts.
        {"slug": user, "source": text(f"U {{{{> {partial} }}}}")},
        {"slug": partial, "source": text("P")},
    ]}, headers=lab.account.headers("editor"))
    assert batch.status_code == 200, batch.get_json()
    statuses = {r["slug"]: r["status"] for r in batch.get_json()["results"]}
    assert statuses == {a: "invalid", b: "invalid", user: "created", partial: "created"}
    assert render(lab, user).get_json()["text"] == "U P"


def test_dependents_and_archive_refused(lab: Lab) -> None:
    tone, one, two, other = lab.slug(), lab.slug(), lab.slug(), lab.slug()
    lab.push(tone, text("T"))
    lab.push(one, text(f"1 {{{{> {tone} }}}}"))
    lab.push(two, text(f"2 {{{{> {tone}@1 }}}}"))
    lab.push(other, text("no includes {{ x }}"))
    viewer = lab.account.headers("viewer")
    for url in (f"{API}/{tone}/-/dependents", f"/api/v1/prompts/{tone}/-/dependents"):
        listed = lab.client().get(url, headers=viewer)
        assert listed.status_code == 200, listed.get_json()
        assert listed.get_json() == {"dependents": [
            {"slug": s, "via": [{"ref": "latest", "version": 1}]} for s in sorted([one, two])]}
    assert lab.client().get(f"{API}/{other}/-/dependents", headers=viewer).get_json() == {
        "dependents": []}
    # A version that includes nothing keeps SQL NULL (not JSON null): the dependents' filter.
    with lab.app.app_context():
        stored = db.session.execute(sql_text(
            "SELECT p.slug, v.partials IS NULL FROM prompt_versions v JOIN prompts p "
            "ON p.id = v.prompt_id WHERE p.slug IN (:one, :other)"),
            {"one": one, "other": other}).all()
        db.session.remove()
    assert sorted(tuple(r) for r in stored) == sorted([(one, False), (other, True)])
    assert lab.client().get(f"{API}/life/none/-/dependents", headers=viewer).status_code == 404
    refused = lab.client().delete(f"{API}/{tone}", headers=lab.account.headers("editor"))
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["error"] == "included" and REFUSAL_CODES["included"] == 409
    assert body["dependents"] == sorted([one, two])
    assert one in body["detail"] and two in body["detail"]
    # Once nobody includes it, it archives.
    lab.push(one, text("1 alone"))
    lab.push(two, text("2 alone"))
    assert lab.client().delete(f"{API}/{tone}",
                               headers=lab.account.headers("editor")).status_code == 204


def test_a_rename_is_held_to_the_same_include_rules(lab: Lab) -> None:
    old, new = lab.slug(), lab.slug()
    lab.push(old, text("old"))
    refused = lab.client().post(f"{API}/{new}", json={
        "source": text("{{> nowhere/at-all }}"), "renamed_from": old, "renamed_from_version": 1,
    }, headers=lab.account.headers("editor"))
    assert refused.status_code == 422, refused.get_json()
    assert f"{new} -> nowhere/at-all" in refused.get_json()["detail"]
    assert old in lab.manifest()  # nothing archived


def test_two_pushes_racing_to_close_a_cycle(lab: Lab) -> None:
    """a -> b and b -> a pushed at the same moment: at most one is stored, whichever lands
    first, so no cycle is ever stored (the check runs under a project lock)."""
    for _ in range(RACE_ROUNDS):
        a, b = lab.slug(), lab.slug()
        lab.push(a, text("A"))
        lab.push(b, text("B"))
        first, second = race(lambda a=a, b=b: post(lab, a, text(f"{{{{> {b} }}}}")).status_code,
                             lambda a=a, b=b: post(lab, b, text(f"{{{{> {a} }}}}")).status_code)
        assert sorted([first, second]) == [201, 422], (first, second)


RACE_ROUNDS = 8


