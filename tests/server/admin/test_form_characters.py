"""The admin's forms refuse the characters the JSON API refuses (webapi/characters.py): NUL,
C0 and C1 controls, DEL, and a line break or tab in a one-line field; the form comes back with
its error and what was typed, and nothing is saved."""

from __future__ import annotations

import html as markup
from typing import Any

import pytest

from tests.support.admin_team import PAGE, Team, html

# Anywhere: NUL, ESC (a terminal escape), NEL and CSI (C1 controls), DEL.
CONTROLS = {"nul": "\x00", "esc": "\x1b[2J", "nel": "\x85", "csi": "\x9b", "del": "\x7f"}
# In a one-line field (a name) also a line break and a tab.
LINE_BREAKS = {"tab": "\t", "newline": "\n", "cr": "\r"}
ONE_LINE = {**CONTROLS, **LINE_BREAKS}
# The character rule (webapi/characters.py) runs in the services before any query, the same code
# on both backends, so every character is tried on SQLite and Postgres runs only the cases whose
# database path could differ: NUL, which Postgres text cannot hold at all (a rule letting it
# through would fail there as a database error, not the form's 400), and ESC, a control Postgres
# would store, so that "nothing is saved" is also checked on a Postgres that could save it.
ON_POSTGRES = ("nul", "esc")


def cases(chars: dict[str, str]) -> list[Any]:
    """(database_url, bad) params: each of chars on SQLite, those of ON_POSTGRES on Postgres."""
    return ([pytest.param("sqlite", bad, id=f"sqlite-{name}") for name, bad in chars.items()]
            + [pytest.param("postgres", chars[name], id=f"postgres-{name}")
               for name in ON_POSTGRES])


def _code(bad: str) -> str:
    if bad == "\x00":
        return "contains a NUL character"
    return f"contains the control character U+{ord(bad[0]):04X}"


@pytest.mark.parametrize(("database_url", "bad"), cases(ONE_LINE), indirect=["database_url"])
def test_a_key_name(team: Team, bad: str) -> None:
    before = team.api("GET", "/projects/demo/keys").get_json()["keys"]
    refused = team.admin.post("/admin/p/demo/keys", {"name": f"lap{bad}top", "role": "viewer"})
    assert refused.status_code == 400
    page = html(refused)
    assert f"&#39;name&#39; {_code(bad)}" in page, page
    assert 'id="new-key"' not in page
    assert f'value="{markup.escape("lap" + bad + "top")}"' in page  # kept to fix it
    assert team.api("GET", "/projects/demo/keys").get_json()["keys"] == before


@pytest.mark.parametrize(("database_url", "bad"), cases(ONE_LINE), indirect=["database_url"])
def test_a_project_name(team: Team, bad: str) -> None:
    refused = team.admin.post("/admin/projects", {"slug": "other", "name": f"Oth{bad}er"})
    assert refused.status_code == 400
    assert f"&#39;name&#39; {_code(bad)}" in html(refused)
    assert team.admin.client.get("/admin/p/other/prompts").status_code == 404


@pytest.mark.parametrize(("database_url", "bad"), cases(CONTROLS), indirect=["database_url"])
def test_a_save_message(team: Team, bad: str) -> None:
    refused = team.admin.post(f"{PAGE}/-/save", {
        "source": "template: Hi there\n", "message": f"fix{bad}ed", "parent_version": "1"})
    assert refused.status_code == 400
    assert f"The message {_code(bad)}" in html(refused)
    assert "Hi there" in html(refused)  # the edited source is kept
    assert team.versions() == [1]


@pytest.mark.parametrize(("database_url", "bad"), cases(CONTROLS), indirect=["database_url"])
def test_a_new_prompt_message(team: Team, bad: str) -> None:
    refused = team.admin.post("/admin/p/demo/new", {
        "slug": "fresh", "source": "template: Hi\n", "message": f"fir{bad}st"})
    assert refused.status_code == 400
    assert f"The message {_code(bad)}" in html(refused)
    assert "fresh" not in team.slugs()


def test_a_message_keeps_its_line_breaks_and_tabs(team: Team) -> None:
    saved = team.admin.post(f"{PAGE}/-/save", {
        "source": "template: Hi there\n", "message": "fix\n\n\tdetails", "parent_version": "1"})
    assert saved.status_code == 302
    versions = team.api("GET", "/projects/demo/prompts/support/greeting/-/versions").get_json()
    assert versions["versions"][0]["message"] == "fix\n\n\tdetails"


@pytest.mark.parametrize(("database_url", "bad"), cases(ONE_LINE), indirect=["database_url"])
def test_a_webhook_url(team: Team, bad: str) -> None:
    url = f"https://93.184.215.14/ho{bad}ok"
    refused = team.admin.post("/admin/p/demo/webhooks", {"url": url, "events": "*"})
    assert refused.status_code == 400
    assert "&#39;url&#39; " in html(refused) and 'id="new-secret"' not in html(refused)
    assert team.api("GET", "/projects/demo/webhooks").get_json()["webhooks"] == []


@pytest.mark.parametrize(("database_url", "bad"), cases(CONTROLS), indirect=["database_url"])
def test_refused_already_by_their_services(team: Team, bad: str) -> None:
    # A protected branch and a label name were refused before: kept so.
    before = team.api("GET", "/projects/demo/settings").get_json()
    team.admin.post("/admin/p/demo/settings", {"approvals_required": "0",
                                               "protected_labels": "production",
                                               "protected_branches": f"ma{bad}in"})
    assert sorted(team.api("GET", "/projects/demo/settings").get_json()["protected_branches"]
                  ) in (before["protected_branches"], ["in", "ma"])  # NEL is white space
    team.admin.post(f"{PAGE}/-/labels", {"label": f"st{bad}age", "version": "1"})
    assert team.labels() == {}


def test_bytes_that_are_not_utf8_never_store_a_surrogate(team: Team) -> None:
    # A lone surrogate (\ud800) cannot come through a form: werkzeug leaves the percent-escapes
    # of bytes that are not UTF-8 as they were typed, text every database stores.
    body = f"csrf_token={team.admin.csrf}&role=viewer&name=k%ED%A0%80"
    made = team.admin.client.post("/admin/p/demo/keys", data=body,
                                  content_type="application/x-www-form-urlencoded")
    assert made.status_code == 201
    names = [k["name"] for k in team.api("GET", "/projects/demo/keys").get_json()["keys"]]
    assert "k%ED%A0%80" in names
