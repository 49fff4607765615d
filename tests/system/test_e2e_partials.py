"""End to end: partials with the installed `promptsync` command against one real server process
(SQLite) for the module: render expands them, status names the prompts a change to a partial
affects, and a push naming a missing prompt or making a cycle is refused with the chain."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.command import run_command
from tests.support.environment import command_env
from tests.support.live import LiveServer, create_account, write_files

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
FILES = {
    "shared/tone.yaml": "template: 'Be kind.'\n",
    "support/reply.yaml": "variables:\n  name: {}\ntemplate: 'Hi {{ name }}. {{> shared/tone }}'\n",
    "support/notes.yaml": "template: 'Notes. {{> shared/tone }}'\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("partials-server")) as live:
        yield live


def test_render_status_and_refused_pushes(tmp_path: Path, server: LiveServer) -> None:
    root, project = tmp_path / "work", f"parts-{uuid.uuid4().hex[:8]}"
    create_account(server.url, f"{project}@example.com", PASSWORD, project)
    root.mkdir()
    env = command_env(tmp_path / "xdg")

    def run(*args: str, code: int = 0, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        done = run_command(root, env, *args, input=input)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        return done

    run("init", "--server", server.url, "--project", project)
    run("login", "--email", f"{project}@example.com", "--password-stdin", input=PASSWORD + "\n")
    write_files(root / "prompts", FILES)
    run("push", "-m", "first")  # the partial and its includers in one batch
    assert run("render", "support/reply", "-v", "name=Ann").stdout == "Hi Ann. Be kind."
    assert run("render", "support/notes").stdout == "Notes. Be kind."
    # Edit the shared partial: status says what it affects; after a push both render it.
    (root / "prompts/shared/tone.yaml").write_text("template: 'Be brief.'\n")
    status = run("status").stdout
    assert "(affects support/notes, support/reply)" in status, status
    run("push", "-m", "tone")
    assert run("render", "support/reply", "-v", "name=Bo").stdout == "Hi Bo. Be brief."
    assert run("render", "support/notes").stdout == "Notes. Be brief."
    # A missing target and a cycle are refused with the chain; nothing else is lost.
    write_files(root / "prompts", {
        "support/lost.yaml": "template: '{{> nowhere }}'\n",
        "shared/tone.yaml": "template: 'Be brief. {{> support/notes }}'\n",
    })
    refused = run("push", code=1)
    assert "support/lost -> nowhere" in refused.stderr, refused.stderr
    assert "shared/tone -> support/notes -> shared/tone" in refused.stderr, refused.stderr
    assert run("render", "support/notes").stdout == "Notes. Be brief."
