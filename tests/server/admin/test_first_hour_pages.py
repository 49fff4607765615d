"""Admin details a newcomer tripped on (issue 16), in the pages the server sends: a favicon, no
label proposed in the label form, a refused save's page that makes a reload a GET, emails that
stay whole in cells that wrap anywhere. (Their effect in a browser: test_browser.py.)"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.support.admin_team import PAGE, Team, make_team


@pytest.fixture
def team(sqlite_app: Flask) -> Team:
    return make_team(sqlite_app)


def test_pages_link_a_favicon_that_is_served(team: Team) -> None:
    page = team.editor.client.get(PAGE).get_data(as_text=True)
    (href,) = re.findall(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', page)
    with team.editor.client.get(href) as icon:  # a static file: closed when read
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
        assert b"<svg" in icon.data


def test_the_label_form_proposes_no_label(team: Team) -> None:
    for user in (team.admin, team.editor):
        page = user.client.get(PAGE).get_data(as_text=True)
        (field,) = re.findall(r'<input id="label-name"[^>]*>', page)
        assert "value=" not in field and "required" in field


def test_a_refused_save_makes_its_address_the_prompt_page(team: Team) -> None:
    refused = team.editor.post(f"{PAGE}/-/save", {"source": "template: Hi\nbogus: 1\n",
                                                  "parent_version": "1"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert f'id="save-status" data-replace-url="{PAGE}"' in page
    with team.editor.client.get("/admin/static/admin.js") as answer:
        script = answer.get_data(as_text=True)
    assert 'window.history.replaceState(null, "", refused.getAttribute("data-replace-url"))' \
        in script
    new = team.editor.post("/admin/p/demo/new", {"slug": "Bad Slug", "source": "template: x\n"})
    assert new.status_code == 400
    assert 'data-replace-url="/admin/p/demo/new"' in new.get_data(as_text=True)


def test_emails_in_tables_that_wrap_anywhere_stay_whole(team: Team) -> None:
    for path in ("/admin/p/demo/activity", "/admin/p/demo/"):
        page = team.admin.client.get(path).get_data(as_text=True)
        assert ('<span class="who-text" title="ann@example.com">ann@example.com</span>'
                in page), path
    with team.admin.client.get("/admin/static/admin.css") as answer:
        css = answer.get_data(as_text=True)
    assert ".who-text { display: inline-block; max-width: 100%; overflow: hidden; " \
           "text-overflow: ellipsis; white-space: nowrap;" in css
