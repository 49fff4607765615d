"""The admin's activity page: the API's audit log, newest first, a page at a time, for members."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from tests.support.admin_team import PAGE, SLUG, Team, html, user
from tests.support.app import GREETING, signup
from webapi.extensions import db
from webapi.models import Event, Project
from webapi.paging import encode_cursor

ACTIVITY = "/admin/p/demo/activity"


def event_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)"', page)]


def text_of(page: str) -> str:
    """The page's visible words, tags dropped and whitespace folded, for sentence checks."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))


def test_members_see_who_did_what_newest_first(team: Team) -> None:
    team.editor.post(f"{PAGE}/-/save", {"source": GREETING + "# v2\n", "parent_version": "1",
                                        "message": "Second"})
    team.admin.post(f"{PAGE}/-/labels", {"label": "production", "version": "2"})
    team.admin.post(f"{PAGE}/-/labels", {"label": "production", "version": "1"})
    created = team.admin.post("/admin/p/demo/keys", {"name": "ci <b>", "role": "viewer"})
    key = re.search(r'id="new-key">(psk_[^<]+)<', html(created)).group(1)  # type: ignore[union-attr]
    key_id = team.app.test_client().get("/api/v1/me", headers={"X-API-Key": key}).get_json()
    team.admin.post(f"/admin/p/demo/keys/{key_id['key']['id']}/revoke")
    team.admin.post("/admin/p/demo/members", {"email": "vi@example.com", "role": "editor"})
    team.admin.post("/admin/p/demo/members", {"email": "vi@example.com", "role": "viewer"})
    team.admin.post(f"{PAGE}/-/labels", {"action": "remove", "label": "production",
                                         "expected_version": "1"})

    response = team.viewer.client.get(ACTIVITY)
    assert response.status_code == 200
    page = html(response)
    # Exactly the API's log, in its order (newest first), from the same query.
    assert event_ids(page) == [e["id"] for e in team.events()]
    words = text_of(page)
    expected = [
        "label Removed label production from support/greeting (was v1)",
        "member Changed vi@example.com from editor to viewer",
        "member Changed vi@example.com from viewer to editor",
        "key Revoked API key “ci <b>” psk_",
        "key Created API key “ci <b>” psk_",
        "label Moved label production on support/greeting to v1 (was v2)",
        "label Set label production on support/greeting to v2",
        "prompt Saved support/greeting v2 diff",
        "prompt Saved support/greeting v1",
        "member vi@example.com joined as viewer",
        "member Invited vi@example.com as viewer",
        "member ed@example.com joined as editor",
        "member Invited ed@example.com as editor",
        "project Created the project “Demo”",
    ]
    positions = [words.find(sentence) for sentence in expected]
    assert -1 not in positions, [s for s, at in zip(expected, positions, strict=True) if at < 0]
    assert positions == sorted(positions)
    assert "ci &lt;b&gt;" in page and key not in page  # escaped; the prefix only
    assert "ed@example.com" in words and "ann@example.com" in words  # who
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", words)  # when
    assert f'href="{PAGE}?v=2"' in page
    assert f'href="{PAGE}/-/diff?from=1&amp;to=2"' in page


def test_pages_follow_the_api_cursor(team: Team) -> None:
    for n in range(6):
        team.api("POST", f"/projects/demo/prompts/{SLUG}", json={"source": GREETING + f"#{n}\n"})
    api_ids: list[int] = []
    api_cursors: list[str] = []
    cursor = ""
    while True:
        body = team.api("GET", f"/projects/demo/events?limit=5&cursor={cursor}").get_json()
        api_ids += [e["id"] for e in body["events"]]
        if body["next"] is None:
            break
        cursor = body["next"]
        api_cursors.append(cursor)
    assert len(api_ids) == 15 and len(api_cursors) == 2
    seen: list[int] = []
    links: list[str] = []
    url: str | None = f"{ACTIVITY}?limit=5"
    while url is not None:
        page = html(team.viewer.client.get(url))
        ids = event_ids(page)
        assert 0 < len(ids) <= 5
        seen += ids
        assert ("Back to the newest" in page) == (url != f"{ACTIVITY}?limit=5")
        found = re.search(r'rel="next" href="([^"]+)"', page)
        url = unescape(found.group(1)) if found else None
        if url:
            links.append(url)
    assert seen == api_ids
    assert links == [f"{ACTIVITY}?cursor={c}&limit=5" for c in api_cursors]
    assert "No older activity" in page


def test_a_page_past_the_oldest_event_says_so(team: Team) -> None:
    page = html(team.viewer.client.get(f"{ACTIVITY}?cursor={encode_cursor(1)}"))
    assert event_ids(page) == [] and "No older activity." in page
    assert "Back to the newest" in page


@pytest.mark.parametrize("query, says", [
    ("cursor=!!!", "not made by this page"),
    (f"cursor={encode_cursor('abc')}", "not made by this page"),
    ("limit=0", "'limit' must be an integer from 1 to 200"),
    ("limit=201", "'limit' must be an integer from 1 to 200"),
    ("limit=ten", "'limit' must be an integer from 1 to 200"),
])
def test_bad_paging_links_get_a_clear_400(team: Team, query: str, says: str) -> None:
    response = team.viewer.client.get(f"{ACTIVITY}?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert says in unescape(html(response))


def test_every_role_has_the_sidebar_link_and_outsiders_get_404(team: Team) -> None:
    for member in (team.viewer, team.editor, team.admin):
        assert f'href="{ACTIVITY}"' in html(member.client.get("/admin/p/demo/"))
    page = html(team.viewer.client.get(ACTIVITY))
    assert f'<a href="{ACTIVITY}" aria-current="page">Activity</a>' in page
    signup(team.app.test_client(), "out@example.com")
    assert user(team.app, "out@example.com").client.get(ACTIVITY).status_code == 404


def test_odd_events_from_imports_render_safely(team: Team) -> None:
    with team.app.app_context():
        project_id = db.session.scalar(select(Project.id).where(Project.slug == "demo"))
        odd = [
            ("version.created", SLUG, {"version": "seven"}),
            ("label.moved", SLUG, {"label": "beta"}),
            ("project.imported", None, {"prompts": 3, "note": "<i>x</i>"}),
            ("custom.thing", "<script>", {}),
            ("key.created", None, {"key_id": 9}),
            ("member.set", None, {"role": "admin"}),
        ]
        for action, slug, details in odd:
            db.session.add(Event(project_id=project_id, actor="<ops>", action=action,
                                 slug=slug, details=details))
        db.session.commit()
    response = team.viewer.client.get(ACTIVITY)
    assert response.status_code == 200
    page = html(response)
    assert "<script>" not in page and "<i>x</i>" not in page and "&lt;ops&gt;" in page
    assert f'href="{PAGE}?v=seven"' not in page  # no link built from a bad number
    words = text_of(page)
    assert "project.imported note=<i>x</i> prompts=3" in words
    assert "custom.thing <script>" in words
    assert "version.created support/greeting version=seven" in words
    assert "label.moved support/greeting label=beta" in words and "vNone" not in words
    assert "key.created key_id=9" in words and "member.set role=admin" in words
    assert "None" not in words
