"""The admin's Archive and Restore forms (POST with CSRF), archived prompts shown apart, and who
may use them: through the Flask test client, no browser."""

from __future__ import annotations

from tests.support.admin_team import PAGE, SLUG, Team, html
from tests.support.app import GREETING

ARCHIVE = f"{PAGE}/-/archive"
RESTORE = f"{PAGE}/-/restore"
LIST = "/admin/p/demo/"


def fetch_status(team: Team) -> int:
    return team.api("GET", f"/projects/demo/prompts/{SLUG}").status_code


def archived_section(page: str) -> str:
    return page[page.index('id="archived"'):] if 'id="archived"' in page else ""


def test_archive_and_restore_through_the_forms(team: Team) -> None:
    assert f'action="{ARCHIVE}"' not in html(team.viewer.client.get(PAGE))
    assert team.viewer.post(ARCHIVE, {"expected_version": "1"}).status_code == 403
    page = html(team.editor.client.get(PAGE))
    assert f'action="{ARCHIVE}"' in page and 'name="expected_version" value="1"' in page
    assert team.editor.post(ARCHIVE, {"expected_version": "1"}, csrf=False).status_code == 403
    assert fetch_status(team) == 200

    archived = team.editor.post(ARCHIVE, {"expected_version": "1"})
    assert archived.status_code == 302 and archived.location == f"{LIST}#archived"
    assert fetch_status(team) == 410
    listing = html(team.editor.client.get(LIST))
    assert f"Archived {SLUG}: apps fetching it by label or latest now get 410" in listing
    assert SLUG in archived_section(listing) and f'action="{RESTORE}"' in listing
    assert "No prompts yet" in listing  # the live list is empty; the archive is apart
    assert f'action="{RESTORE}"' not in html(team.viewer.client.get(LIST))  # viewers: no button
    shown = html(team.editor.client.get(PAGE))
    assert "Archived</strong> on" in shown and f'action="{RESTORE}"' in shown
    assert f'action="{ARCHIVE}"' not in shown and "<textarea" not in shown

    assert team.viewer.post(RESTORE).status_code == 403
    restored = team.editor.post(RESTORE)
    assert restored.status_code == 302 and restored.location == PAGE
    assert "Restored support/greeting at v1" in html(team.editor.client.get(PAGE))
    assert fetch_status(team) == 200
    assert not archived_section(html(team.editor.client.get(LIST)))
    # Restoring a live prompt is refused, as a message.
    team.editor.post(RESTORE)
    assert "is not archived" in html(team.editor.client.get(PAGE))

    # The form archives the version the page showed: a newer one makes it a conflict.
    team.api("POST", f"/projects/demo/prompts/{SLUG}", json={"source": GREETING + "# v2\n"})
    stale = team.editor.post(ARCHIVE, {"expected_version": "1"})
    assert stale.status_code == 302 and stale.location == f"{PAGE}#lifecycle"
    assert "is at version 2, not 1" in html(team.editor.client.get(PAGE))
    assert fetch_status(team) == 200
    actions = [e["action"] for e in team.events() if e["slug"] == SLUG]
    assert actions[:3] == ["version.created", "prompt.restored", "prompt.archived"]  # newest first


def test_a_protected_label_needs_an_admins_force(team: Team) -> None:
    moved = team.api("PUT", f"/projects/demo/prompts/{SLUG}/-/labels/production",
                     json={"version": 1})
    assert moved.status_code == 200
    page = html(team.editor.client.get(PAGE))
    assert f'action="{ARCHIVE}"' not in page and "only an admin can archive it" in page
    team.editor.post(ARCHIVE, {"expected_version": "1", "force": "yes"})
    assert "Only admins may archive with force" in html(team.editor.client.get(PAGE))
    admin_page = html(team.admin.client.get(PAGE))
    assert f'action="{ARCHIVE}"' in admin_page and 'name="force" value="yes"' in admin_page
    team.admin.post(ARCHIVE, {"expected_version": "1"})
    assert "protected label &#39;production&#39; (v1)" in html(team.admin.client.get(PAGE))
    assert fetch_status(team) == 200
    forced = team.admin.post(ARCHIVE, {"expected_version": "1", "force": "yes"})
    assert forced.status_code == 302 and fetch_status(team) == 410
    activity = html(team.viewer.client.get("/admin/p/demo/activity"))
    assert "forced past its protected labels" in activity and "Removed label" in activity
