"""The first minute of a user, end to end over plain HTTP against a real server process.

Sign up → a project → an API key → push v1 → push v2 → fetch by slug (v2), by version (v1),
revalidate with the ETag (304) → the admin page of the prompt lists both versions.
`make smoke` runs only this module; it must stay well under 10 s on a fresh clone.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live import LiveServer

pytestmark = pytest.mark.smoke

SLUG = "support/greeting"
V1 = "variables:\n  name: {required: true}\ntemplate: |\n  Hello {{ name }}.\n"
V2 = "variables:\n  name: {required: true}\ntemplate: |\n  Hello {{ name }}, welcome back.\n"
CREDENTIALS = {"email": "ann@example.com", "password": "correct horse battery"}


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`flask --app webapi run` on a loopback port over a copy of the migrated SQLite template."""
    workdir = tmp_path_factory.mktemp("smoke")
    database = workdir / "smoke.db"
    shutil.copyfile(sqlite_template, database)
    # The template is what `flask db upgrade` would produce; copying it skips a second process.
    live = LiveServer(workdir, f"sqlite:///{database}").start(migrate=False)
    try:
        yield live.url
    finally:
        live.stop()


def test_signup_to_admin_page(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as web:
        # A user, signed in (the session cookie stays in this client), and their project.
        assert web.post("/api/v1/auth/signup", json=CREDENTIALS).status_code == 201
        login = web.post("/api/v1/auth/login", json=CREDENTIALS)
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        project = web.post("/api/v1/projects", json={"slug": "demo", "name": "Demo"},
                           headers=csrf)
        assert project.status_code == 201, project.text
        created = web.post("/api/v1/projects/demo/keys", json={"name": "ci", "role": "editor"},
                           headers=csrf)
        assert created.status_code == 201, created.text
        key = {"X-API-Key": created.json()["key"]}
        assert key["X-API-Key"].startswith("psk_")

        # Two pushes with the key, as `promptsync push` sends them.
        for number, source, base in ((1, V1, 0), (2, V2, 1)):
            pushed = httpx.post(f"{server}/api/v1/projects/demo/prompts/{SLUG}", headers=key,
                                json={"source": source, "message": f"v{number}",
                                      "parent_version": base}, timeout=10)
            assert pushed.status_code == 201, pushed.text
            assert pushed.json()["version"] == number

        # Fetches as an application makes them: the latest, a pinned version, a revalidation.
        latest = httpx.get(f"{server}/api/v1/prompts/{SLUG}", headers=key, timeout=10)
        assert latest.status_code == 200, latest.text
        assert (latest.json()["version"], latest.json()["source"]) == (2, V2)
        pinned = httpx.get(f"{server}/api/v1/prompts/{SLUG}", params={"version": 1},
                           headers=key, timeout=10)
        assert (pinned.json()["version"], pinned.json()["source"]) == (1, V1)
        assert latest.headers["ETag"] != pinned.headers["ETag"]
        again = httpx.get(f"{server}/api/v1/prompts/{SLUG}", timeout=10,
                          headers={**key, "If-None-Match": latest.headers["ETag"]})
        assert again.status_code == 304
        assert again.content == b""

        # The admin page of the prompt, with the session cookie: both versions in its history.
        page = web.get(f"/admin/p/demo/prompts/{SLUG}")
        assert page.status_code == 200, page.text[:500]
        history = page.text.split('id="history"', 1)[1].split("</section>", 1)[0]
        assert re.findall(r'class="ver"[^>]*>(v\d+)</a>', history) == ["v2", "v1"]
        assert "welcome back" in page.text
