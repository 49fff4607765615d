"""On a `promptsync dev` server the keys page tells which key dev and watch use, and its revoke
button asks a stronger question; anywhere else (no DEV_KEY_FILE) nothing changes."""

from __future__ import annotations

import html as markup
import re
from pathlib import Path

import pytest

from tests.support.admin_team import Team, html

DEV_WARNING = ("promptsync dev and watch on this machine use this key: revoking it stops them "
               "until promptsync dev, started again, makes a new one.")
PLAIN_WARNING = "Anything using it stops working at once."


def confirms(team: Team) -> dict[str, str]:
    """Each listed key's prefix and the question its revoke button asks."""
    page = html(team.admin.client.get("/admin/p/demo/keys"))
    found = re.findall(r'data-confirm="([^"]*)"', page)
    questions = [markup.unescape(text) for text in found]
    return {re.search(r"\((psk_[0-9a-f]{8})\)", q).group(1): q  # type: ignore[union-attr]
            for q in questions}


def test_the_key_dev_uses_gets_the_stronger_question(team: Team, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    dev_key = team.account.keys["admin"]
    key_file = tmp_path / "dev-api-key"
    key_file.write_text(dev_key + "\n")
    monkeypatch.setitem(team.app.config, "DEV_KEY_FILE", str(key_file))
    questions = confirms(team)
    assert len(questions) == 3
    dev_prefix = dev_key[:12]
    assert questions[dev_prefix].endswith(DEV_WARNING), questions
    assert all(q.endswith(PLAIN_WARNING) for p, q in questions.items() if p != dev_prefix)
    page = html(team.admin.client.get("/admin/p/demo/keys"))
    assert page.count("used by promptsync dev and watch here") == 1


@pytest.mark.parametrize("content", [None, "", "not a key", "psk_zzzzzzzz_x", "\udcff"])
def test_no_mark_without_a_readable_dev_key(team: Team, tmp_path: Path, content: str | None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "dev-api-key"
    if content is not None:
        key_file.write_bytes(content.encode("utf-8", "surrogateescape"))
    monkeypatch.setitem(team.app.config, "DEV_KEY_FILE", str(key_file))
    questions = confirms(team)
    assert len(questions) == 3 and all(q.endswith(PLAIN_WARNING) for q in questions.values())


def test_a_server_that_is_not_dev_marks_nothing(team: Team) -> None:
    assert not team.app.config.get("DEV_KEY_FILE")
    questions = confirms(team)
    assert all(q.endswith(PLAIN_WARNING) for q in questions.values())
    assert "promptsync dev" not in html(team.admin.client.get("/admin/p/demo/keys"))
