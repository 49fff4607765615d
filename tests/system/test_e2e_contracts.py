"""End to end: prompt contracts with the installed `promptsync` command against one real server
process for the module (each test in a project of its own): `render -v` reads command-line
values as their declared types."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.command import run_command
from tests.support.environment import command_env
from tests.support.live import (
    LiveServer,
    create_account,
    create_key,
    make_prompt_repo,
    write_files,
)

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
COUNTED = """\
variables:
  n: {type: integer, required: true}
  tone: {enum: [formal, casual], default: casual}
  loud: {type: boolean, default: false}
template: "{{ n }} items, {{ tone }}, loud={{ loud }}"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: each test has a project of its own."""
    with LiveServer(tmp_path_factory.mktemp("contracts-server")) as live:
        yield live


class Repo:
    """A prompt repository with an editor key for its own project; the command run in it."""

    def __init__(self, root: Path, server: LiveServer, files: dict[str, str]) -> None:
        self.project = f"c-{uuid.uuid4().hex[:8]}"
        email = f"{self.project}@example.com"
        create_account(server.url, email, PASSWORD, self.project)
        key = create_key(server.url, email, PASSWORD, self.project, "admin")
        self.root = root
        self.prompts = make_prompt_repo(root, server.url, self.project, files)
        self.env = command_env(root / "xdg", PROMPTSYNC_API_KEY=key)

    def run(self, *args: str, code: int = 0) -> tuple[str, str]:
        done = run_command(self.root, self.env, *args)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done.stdout, done.stderr

    def write(self, files: dict[str, str]) -> None:
        write_files(self.prompts, files)


def test_render_reads_command_line_values_as_their_declared_types(
        server: LiveServer, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", server, {"shop/count.yaml": COUNTED})
    repo.run("push")
    out, _ = repo.run("render", "shop/count", "-v", "n=3", "-v", "loud=yes")
    assert out == "3 items, casual, loud=true"
    _, err = repo.run("render", "shop/count", "-v", "n=x", "-v", "tone=rude", code=1)
    assert "variable 'n' must be an integer, not \"x\" (-v n=x)" in err
    # The enum is the server's to judge once every value has its type: one line, both named.
    _, err = repo.run("render", "shop/count", "-v", "n=2", "-v", "tone=rude", code=1)
    assert "'tone' must be one of \"formal\", \"casual\", not \"rude\"" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    _, err = repo.run("render", "shop/count", "-v", "tone=formal", code=1)
    assert "Missing variables: n" in err


def test_label_refuses_a_contract_break_until_allowed(server: LiveServer, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo", server, {"shop/count.yaml": COUNTED})
    repo.run("push")
    repo.run("label", "shop/count", "production")
    repo.write({"shop/count.yaml": COUNTED.replace(
        "  loud: {type: boolean, default: false}\n",
        "  loud: {type: boolean, default: false}\n  shop: {required: true}\n").replace(
        "loud={{ loud }}", "loud={{ loud }} at {{ shop }}")})
    repo.run("push")
    _, err = repo.run("label", "shop/count", "production", code=1)
    assert "breaks its contract: variable 'shop' is now required" in err
    assert "Pass --allow-breaking" in err and len(err.strip().splitlines()) == 1
    out, _ = repo.run("render", "shop/count", "--label", "production", "-v", "n=1")
    assert out == "1 items, casual, loud=false"  # production did not move
    _, err = repo.run("label", "shop/count", "production", "--allow-breaking")
    assert "production -> v2 (was v1)" in err
