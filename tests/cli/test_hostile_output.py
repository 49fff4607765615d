"""What a server (or a file) sends never reaches the terminal raw: every command's output with
hostile text in messages, authors, labels, templates, slugs and error details, class by class.

The text goes through the real app as a marker and is swapped in on the way back (Hostile), as
a malicious or compromised server would send it; what the app itself accepts is beside the point.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from flask import Flask

from promptsync.client.api import ApiClient
from tests.support.app import IN_PROCESS, Account, make_account
from tests.support.cli import run_cli
from tests.support.hostile import HOSTILE, HOSTILE_IDS, MARKER, Hostile, dangerous
from tests.support.live import prompt_source, write_files
from tests.support.saved_states import SavedStates

CHAT = f"""\
messages:
  - {{role: system, content: "You are {MARKER}."}}
  - {{role: user, content: "{{{{ question }}}}"}}
"""


@pytest.fixture(params=HOSTILE, ids=HOSTILE_IDS)
def hostile(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """(class, text, escaped form)"""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def account(app: Flask, saved_states: SavedStates) -> Account:
    """The author's email holds the marker too (made once per process, then put back)."""
    return saved_states.get(app, "marker account",
                            lambda app: make_account(app, email=f"{MARKER}@example.com"))


@pytest.fixture
def seeded(app: Flask, account: Account) -> None:
    """greeting v1 and v2 (the marker in the template, the message and a label) and chat."""
    with ApiClient(IN_PROCESS, account.keys["editor"],
                   transport=httpx.WSGITransport(app=app)) as api:
        api.push("demo", "greeting", prompt_source(f"Hi {MARKER} {{{{ name }}}}."),
                 message=f"first {MARKER}\nsecond line")
        api.push("demo", "greeting", prompt_source(f"Hello {MARKER} {{{{ name }}}}."),
                 message=f"release {MARKER}")
        api.set_label("demo", "greeting", MARKER, 1)
        api.push("demo", "chat", CHAT, message="chat")


def run(app: Flask, account: Account, text: str, *args: str,
        terminal: bool | None = None) -> Result:
    return run_cli(Hostile(app, text), *args, api_key=account.keys["editor"], terminal=terminal)


def shown(result: Result) -> str:
    """Everything written, decoded without hiding a byte (an unpaired surrogate stays one)."""
    return (result.stdout_bytes + result.stderr_bytes).decode("utf-8", "surrogateescape")


def exact(text: str) -> bytes:
    """The bytes of ``text`` as a pipe gets them (a lone surrogate has none: escaped)."""
    return text.encode("utf-8", "backslashreplace")


def test_log_escapes_messages_authors_and_labels(
        app: Flask, account: Account, repo: Path, seeded: None, hostile: tuple[str, str, str]
) -> None:
    _, text, visible = hostile
    for terminal in (True, False):
        result = run(app, account, text, "log", "greeting", terminal=terminal)
        assert result.exit_code == 0, shown(result)
        assert dangerous(shown(result)) == []
        lines = result.stdout_bytes.decode().split("\n")
        assert len(lines) == 3 and lines[2] == ""  # two versions, no line faked or overwritten
        assert f"release {visible}" in lines[0] and f"{visible}@example.com" in lines[0]
        assert f"[{visible}] first {visible}" in lines[1]


def test_render_and_get_escape_on_a_terminal_and_stay_exact_in_a_pipe(
        app: Flask, account: Account, repo: Path, seeded: None, hostile: tuple[str, str, str]
) -> None:
    _, text, visible = hostile
    rendered = run(app, account, text, "render", "greeting", "-v", "name=x", terminal=True)
    assert rendered.exit_code == 0, shown(rendered)
    assert dangerous(shown(rendered)) == [] and f"Hello {visible} x." in rendered.stdout
    piped = run(app, account, text, "render", "greeting", "-v", "name=x", terminal=False)
    assert piped.stdout_bytes == exact(f"Hello {text} x.\n")
    source = prompt_source(f"Hello {text} {{{{ name }}}}.")
    got = run(app, account, text, "get", "greeting", terminal=True)
    assert got.exit_code == 0, shown(got)
    assert dangerous(shown(got)) == [] and f"Hello {visible} {{{{ name }}}}" in got.stdout
    assert run(app, account, text, "get", "greeting", terminal=False).stdout_bytes == exact(source)
    for terminal in (True, False):
        # JSON: escaped as JSON, so nothing is lost and nothing reaches the terminal raw.
        chat = run(app, account, text, "render", "chat", "-v", "question=q", terminal=terminal)
        assert dangerous(shown(chat)) == []
        assert json.loads(chat.stdout)[0]["content"] == f"You are {text}."
        as_json = run(app, account, text, "get", "greeting", "--json", terminal=terminal)
        assert dangerous(shown(as_json)) == []
        assert json.loads(as_json.stdout)["source"] == source


def test_diff_escapes_on_a_terminal_and_stays_exact_in_a_pipe(
        app: Flask, account: Account, repo: Path, seeded: None, hostile: tuple[str, str, str]
) -> None:
    _, text, visible = hostile
    between = run(app, account, text, "diff", "greeting", "1", "2", terminal=True)
    assert between.exit_code == 0, shown(between)
    assert dangerous(shown(between)) == [] and f"+  Hello {visible} {{{{ name }}}}." in \
        between.stdout
    piped = run(app, account, text, "diff", "greeting", "1", "2", terminal=False)
    assert exact(f"+  Hello {text} {{{{ name }}}}.\n") in piped.stdout_bytes
    # The local file holds the text raw (a lone surrogate cannot be stored: its bytes are).
    write_files(repo / "prompts", {"greeting.yaml": prompt_source(f"Hey {text} {{{{ name }}}}.")
                                   .encode("utf-8", "surrogatepass")})
    local = run(app, account, text, "diff", "greeting", terminal=True)
    assert local.exit_code == 0, shown(local)
    assert dangerous(shown(local)) == [] and "+  Hey " in local.stdout


def test_slugs_and_server_details_are_escaped_in_every_line(
        app: Flask, account: Account, repo: Path, seeded: None, hostile: tuple[str, str, str]
) -> None:
    _, text, visible = hostile
    with ApiClient(IN_PROCESS, account.keys["editor"],
                   transport=httpx.WSGITransport(app=app)) as api:
        api.push("demo", f"evil-{MARKER}", prompt_source())
    status = run(app, account, text, "status")
    assert status.exit_code == 0, shown(status)
    assert dangerous(shown(status)) == [] and f"evil-{visible}" in status.stdout
    pulled = run(app, account, text, "pull")
    assert pulled.exit_code == 1
    assert dangerous(shown(pulled)) == [] and f"evil-{visible}" in pulled.stderr
    missing = run(app, account, text, "get", f"nope-{MARKER}")  # the 404's detail names it
    assert missing.exit_code == 1 and dangerous(shown(missing)) == []
    assert missing.stderr_bytes.count(b"\n") == 1 and f"nope-{visible}" in missing.stderr
    labelled = run(app, account, text, "label", "greeting", MARKER, "2")
    assert labelled.exit_code == 0, shown(labelled)
    assert dangerous(shown(labelled)) == []


def test_login_and_backup_show_what_the_server_sent_escaped(
        app: Flask, account: Account, repo: Path, seeded: None, hostile: tuple[str, str, str]
) -> None:
    _, text, visible = hostile
    login = run_cli(Hostile(app, text), "login", "--email", account.email, "--password-stdin",
                    input=account.password + "\n")
    assert login.exit_code == 0, shown(login)
    assert dangerous(shown(login)) == [] and f"as {visible}@example.com" in login.stderr
    admin = run_cli(Hostile(app, text), "backup", "-o", "-", api_key=account.keys["admin"])
    assert admin.exit_code == 0, shown(admin)
    assert dangerous(shown(admin)) == []
    document = json.loads(admin.stdout_bytes)
    assert {v["message"] for p in document["prompts"] for v in p["versions"]} >= {
        f"release {text}", f"first {text}\nsecond line"}
