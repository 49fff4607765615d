"""The admin's label form says what moving `production` to the shown version would break before
the click, refuses the move without the box ticked, and moves it with the box."""

from __future__ import annotations

from tests.support.admin_team import PAGE, SLUG, Team, html
from tests.support.app import GREETING

MOVE = f"{PAGE}/-/labels"


def test_the_form_shows_the_break_and_moves_only_when_allowed(team: Team) -> None:
    assert team.api("PUT", f"/projects/demo/prompts/{SLUG}/-/labels/production",
                    json={"version": 1}).status_code == 200
    team.api("POST", f"/projects/demo/prompts/{SLUG}", json={"source": GREETING.replace(
        "  topic: {required: true}\n", "  topic: {required: true}\n  shop: {required: true}\n"
    ).replace("{{ topic }}.", "{{ topic }} at {{ shop }}.")})
    page = html(team.admin.client.get(PAGE))
    assert "Moving “production” to v2 breaks its contract:" in page
    assert "variable &#39;shop&#39; is now required" in page
    assert 'name="allow_breaking"' in page
    assert "breaks its contract" not in html(team.admin.client.get(PAGE + "?v=1"))
    refused = team.admin.post(MOVE, {"label": "production", "version": "2", "action": "move",
                                     "back_version": "2"})
    assert refused.status_code == 302
    assert "breaks its contract" in html(team.admin.client.get(PAGE))
    assert team.labels()["production"] == 1
    moved = team.admin.post(MOVE, {"label": "production", "version": "2", "action": "move",
                                   "back_version": "2", "allow_breaking": "1"})
    assert moved.status_code == 302
    assert team.labels()["production"] == 2
