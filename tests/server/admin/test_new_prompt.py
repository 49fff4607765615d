"""Creating a prompt from the admin: version 1 through the API's push path, or a clear error."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.support.admin_team import PAGE, SLUG, Team, html, user
from tests.support.app import GREETING, signup

NEW = "/admin/p/demo/new"
FAREWELL = """\
description: Says goodbye
template: |
  Bye {{ name }}, see you soon.
variables:
  name: {default: there}
"""


def create(team: Team, slug: str, source: str = FAREWELL, message: str = "",
           who: str = "editor", csrf: bool = True) -> tuple[int, str, str | None]:
    """Post the form; (status, page, redirect location)."""
    response = getattr(team, who).post(NEW, {"slug": slug, "source": source,
                                             "message": message}, csrf=csrf)
    return response.status_code, html(response), response.location


def test_editor_creates_version_1_and_lands_on_it(team: Team) -> None:
    form = html(team.editor.client.get(NEW))
    for field in ("new-slug", "source-editor", "message"):
        assert f'<label for="{field}"' in form and f'id="{field}"' in form
    events_before = len(team.events())
    # Browsers send textarea lines with CRLF: stored with LF, as the CLI would push the file.
    status, _, location = create(team, "support/farewell", FAREWELL.replace("\n", "\r\n"),
                                 "Close the conversation")
    assert status == 302 and location == "/admin/p/demo/prompts/support/farewell"
    page = html(team.editor.client.get(location))
    assert "Created support/farewell as version 1." in page and "Bye {{ name }}" in page
    body = team.api("GET", "/projects/demo/prompts/support/farewell").get_json()
    assert body["version"] == 1 and body["source"] == FAREWELL
    assert body["sha256"] == hashlib.sha256(FAREWELL.encode()).hexdigest()
    assert body["author"] == "ed@example.com" and body["message"] == "Close the conversation"
    assert body["variables"]["name"]["default"] == "there"
    events = team.events()
    assert len(events) == events_before + 1
    assert events[0]["action"] == "version.created" and events[0]["slug"] == "support/farewell"
    assert events[0]["actor"] == "ed@example.com" and events[0]["details"]["version"] == 1


def test_the_same_file_pushed_by_the_api_stores_the_same_version(team: Team) -> None:
    create(team, "from-admin", who="admin")
    team.api("POST", "/projects/demo/prompts/from-api", json={"source": FAREWELL})
    ours = team.api("GET", "/projects/demo/prompts/from-admin").get_json()
    theirs = team.api("GET", "/projects/demo/prompts/from-api").get_json()
    differ = {"slug", "created_at", "author", "message"}
    assert {k: v for k, v in ours.items() if k not in differ} == {
        k: v for k, v in theirs.items() if k not in differ}


def test_invalid_source_shows_line_numbers_and_saves_nothing(team: Team) -> None:
    bad = "model: x\ntemplate: hi <b>\nmessages: []\nbogus: 1\n"
    status, page, _ = create(team, "broken", bad, "keep me")
    assert status == 422
    assert "Not created." in page and re.search(r"line 3, column 1</span>: .*not both", page)
    assert "unknown key &#39;bogus&#39;" in page and "line 4" in page
    assert "template: hi &lt;b&gt;" in page and 'value="keep me"' in page  # kept, escaped
    assert 'value="broken"' in page and 'aria-invalid="true"' in page
    assert team.slugs() == [SLUG] and team.versions("broken") == []


@pytest.mark.parametrize("source, problem", [
    ("", "the file is empty"),
    ("template: a\x00b\n", "NUL byte"),
    ("- just\n- a list\n", "mapping"),
])
def test_every_parser_error_reaches_the_form(team: Team, source: str, problem: str) -> None:
    status, page, _ = create(team, "broken", source)
    assert status == 422 and problem in page
    assert team.slugs() == [SLUG]


def test_an_existing_slug_is_refused_with_a_link_to_it(team: Team) -> None:
    status, page, _ = create(team, SLUG, FAREWELL, "overwrite?")
    assert status == 409
    assert "already exists" in page and f'href="{PAGE}"' in page
    assert "Bye {{ name }}" in page and 'value="overwrite?"' in page
    assert team.versions() == [1]
    # The very same bytes as its latest version: still "exists", never a silent no-op.
    status, page, _ = create(team, SLUG, GREETING)
    assert status == 409 and "already exists" in page and team.versions() == [1]


@pytest.mark.parametrize("slug, says", [
    ("", "the slug is empty"),
    ("Support/Greeting", "must start with a lowercase letter"),
    ("support//greeting", "empty path segment"),
    ("/support", "empty path segment"),
    ("support/-", "must start with a lowercase letter"),
    ("a/" * 8 + "b", "the limit is 8"),
    ("x" * 201, "the limit is 200"),
    ("support/farewell.yaml", "Leave out the &#39;.yaml&#39; extension"),
])
def test_bad_slugs_are_explained_and_nothing_is_lost(team: Team, slug: str, says: str) -> None:
    status, page, _ = create(team, slug, FAREWELL, "my note")
    assert status == 400 and "Not created." in page and says in page
    assert "Bye {{ name }}" in page and 'value="my note"' in page
    assert team.slugs() == [SLUG]


@pytest.mark.parametrize("message, says", [
    ("x" * 10_001, "longer than 10,000 characters"),
    ("a\x00b", "NUL character"),
])
def test_bad_messages_are_refused(team: Team, message: str, says: str) -> None:
    status, page, _ = create(team, "support/farewell", FAREWELL, message)
    assert status == 400 and says in page and "Bye {{ name }}" in page
    assert team.slugs() == [SLUG]


def test_viewers_get_no_button_and_a_403(team: Team) -> None:
    assert NEW not in html(team.viewer.client.get("/admin/p/demo/"))
    for editor_or_up in (team.editor, team.admin):
        assert f'href="{NEW}"' in html(editor_or_up.client.get("/admin/p/demo/"))
    assert team.viewer.client.get(NEW).status_code == 403
    status, _, _ = create(team, "support/farewell", who="viewer")
    assert status == 403
    assert team.slugs() == [SLUG]


def test_forged_anonymous_and_outside_posts_write_nothing(team: Team) -> None:
    assert create(team, "a", csrf=False)[0] == 403
    response = team.editor.client.post(NEW, data={"slug": "b", "source": FAREWELL,
                                                  "csrf_token": "forged"})
    assert response.status_code == 403
    response = team.app.test_client().post(NEW, data={"slug": "c", "source": FAREWELL})
    assert response.status_code == 302 and "/admin/login" in response.location
    signup(team.app.test_client(), "out@example.com")
    outsider = user(team.app, "out@example.com")
    assert outsider.client.get(NEW).status_code == 404
    assert outsider.post(NEW, {"slug": "d", "source": FAREWELL}).status_code == 404
    assert team.slugs() == [SLUG]


def test_empty_project_offers_the_form(team: Team) -> None:
    team.admin.post("/admin/projects", {"slug": "fresh"})
    page = html(team.admin.client.get("/admin/p/fresh/"))
    assert "No prompts yet" in page and 'href="/admin/p/fresh/new"' in page


def test_save_refuses_a_nul_in_the_message(team: Team) -> None:
    # Postgres refuses NUL in text: the prompt page's save says so instead of answering 500.
    response = team.editor.post(f"{PAGE}/-/save", {"source": GREETING + "# x\n",
                                                    "parent_version": "1", "message": "a\x00"})
    assert response.status_code == 400 and "NUL character" in html(response)
    assert team.versions() == [1]

