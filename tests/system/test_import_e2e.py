"""End to end, as a migrating team does it: a folder of Markdown prompts and a CSV of prompts
imported with one command each, lint clean, pushed to a real server, and `promptsync render`
of every one of them giving back the source text exactly (one server for the module)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptsync import Client
from promptsync.cli import cli
from promptsync.cli.context import Obj
from tests.support.command import run_command
from tests.support.environment import command_env
from tests.support.live import (
    LiveServer,
    create_account,
    create_key,
    make_prompt_repo,
    tool,
    write_files,
)
from tests.support.prompt_corpus import TEXTS

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
# name cell -> text cell; the names collide (case, repetition) and are not ASCII.
ROWS = [
    ("Linux Terminal", "I want you to act as a linux terminal.\r\nReply with {{output}} only."),
    ("linux terminal", "A second one with the same name.\n"),
    ("Переводчик", "Переведи текст:\n\n  «{{текст}}»\n\n"),
    ("Linux Terminal", "x" * 1200 + "\n---\n"),
    ("", "a row without a name\t"),
]
PROMPTY = """\
---
description: Answers a question
model:
  configuration: {type: openai, name: gpt-4o-mini}
  parameters: {temperature: 0.2}
inputs:
  question: {type: string, description: the question}
---
system:
Answer briefly; quote {{ question }} first.

user:
{{question}}
"""


def _csv(rows: list[tuple[str, str]]) -> str:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'
    return "act,prompt\r\n" + "".join(f"{cell(n)},{cell(t)}\r\n" for n, t in rows)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """A server on SQLite with project 'team' and an editor key."""
    workdir = tmp_path_factory.mktemp("import-server")
    with LiveServer(workdir) as server:
        create_account(server.url, "mig@example.com", PASSWORD, "team")
        yield server, create_key(server.url, "mig@example.com", PASSWORD, "team")


def test_import_lint_push_render_gives_back_every_text(
    live: tuple[LiveServer, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, key = live
    root = tmp_path / "repo"
    make_prompt_repo(root, server.url, "team")
    sources = tmp_path / "exported"
    write_files(sources / "markdown", {f"{name}.md": text.encode("utf-8")
                                       for name, text in TEXTS.items()})
    write_files(sources, {"roles.csv": _csv(ROWS), "answer.prompty": PROMPTY})
    env = command_env(tmp_path / "xdg", PROMPTSYNC_API_KEY=key)

    markdown = run_command(root, env, "import", str(sources / "markdown"), "--prefix", "md/")
    assert markdown.returncode == 0, markdown.stderr
    assert f"imported {len(TEXTS)}, 0 skipped" in markdown.stderr
    table = run_command(root, env, "import", str(sources / "roles.csv"))
    assert table.returncode == 0, table.stderr
    assert "imported 5 (3 renamed), 0 skipped; non-ASCII names transliterated" in table.stderr
    templated = run_command(root, env, "import", str(sources / "answer.prompty"))
    assert templated.returncode == 0, templated.stderr
    lint = run_command(root, env, "lint")
    assert lint.returncode == 0 and lint.stdout == "", lint.stdout
    push = run_command(root, env, "push", "-m", "import")
    assert push.returncode == 0, push.stderr

    expected = {f"md/{name}": text for name, text in TEXTS.items()}
    expected.update({"linux-terminal": ROWS[0][1], "linux-terminal-2": ROWS[1][1],
                     "perevodchik": ROWS[2][1], "linux-terminal-3": ROWS[3][1],
                     "roles-5": ROWS[4][1]})
    monkeypatch.chdir(root)
    monkeypatch.setenv("PROMPTSYNC_API_KEY", key)
    for slug, text in expected.items():
        # The CLI in this process, over HTTP to the server, into a pipe: the bytes exactly.
        rendered = CliRunner().invoke(cli, ["render", slug], obj=Obj(terminal=False))
        assert rendered.exit_code == 0, (slug, rendered.output)
        assert rendered.stdout_bytes == text.encode("utf-8"), slug
    for slug in ("md/no-final-newline", "linux-terminal"):  # and the installed command
        done = subprocess.run([tool("promptsync"), "render", slug], cwd=root, env=env,
                              capture_output=True, timeout=60)
        assert done.stdout == expected[slug].encode("utf-8"), done.stderr

    with Client(server.url, api_key=key, project="team") as client:
        answer = client.get("answer")
        assert answer.prompt.model == "gpt-4o-mini"
        assert answer.render(question="Why?") == [
            {"role": "system", "content": "Answer briefly; quote Why? first."},
            {"role": "user", "content": "Why?"},
        ]
