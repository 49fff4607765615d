"""What a newcomer's first hour tripped on (issue 16), through the CLI against the real app
in-process: --json for scripts, `log` without a slug, a diff with no differences, a typo in
`render -v`, shell completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from flask import Flask

from promptsync.watch.eventlog import EventLog
from tests.support.app import GREETING, Account
from tests.support.cli import run_cli
from tests.support.environment import outside_make
from tests.support.live import REPO_ROOT, tool, write_files

Run = Callable[..., Result]


@pytest.fixture
def run(app: Flask, account: Account) -> Run:
    transport = httpx.WSGITransport(app=app)

    def invoke(*args: str) -> Result:
        return run_cli(transport, *args, api_key=account.keys["editor"])
    return invoke


@pytest.fixture
def prompts(repo: Path) -> Path:
    return repo / "prompts"


def test_status_json_lists_every_prompt_with_its_status(run: Run, prompts: Path) -> None:
    write_files(prompts, {"support/greeting.yaml": GREETING})
    assert run("push", "-m", "first").exit_code == 0
    write_files(prompts, {"new.yaml": GREETING, "broken.yaml": "template: Hi {{ x }}\nfoo: 1\n"})
    result = run("status", "--json")
    assert result.exit_code == 0, result.output  # as without --json: only --exit-code fails
    document = json.loads(result.stdout)
    by_slug = {p["slug"]: p for p in document["prompts"]}
    assert by_slug["support/greeting"] == {
        "slug": "support/greeting", "status": "in sync", "path": "prompts/support/greeting.yaml",
        "base_version": 1, "server_version": 1, "renamed_from": None, "problems": []}
    assert (by_slug["new"]["status"], by_slug["new"]["server_version"]) == ("new", None)
    broken = by_slug["broken"]
    assert broken["status"] == "invalid" and broken["path"] == "prompts/broken.yaml"
    assert {"line": 2, "column": 1} == {k: broken["problems"][-1][k] for k in ("line", "column")}
    assert document["counts"]["in sync"] == 1 and document["counts"]["new"] == 1
    assert run("status", "--json", "--exit-code").exit_code == 1


def test_log_with_and_without_a_slug_as_text_and_json(run: Run, prompts: Path) -> None:
    write_files(prompts, {"support/greeting.yaml": GREETING, "billing/refund.yaml": GREETING})
    assert run("push", "-m", "first").exit_code == 0
    write_files(prompts, {"support/greeting.yaml": GREETING + "# two\n"})
    assert run("push", "-m", "second").exit_code == 0
    one = json.loads(run("log", "support/greeting", "--json").stdout)
    assert (one["project"], one["slug"]) == ("demo", "support/greeting")
    assert [(v["version"], v["message"]) for v in one["versions"]] == [(2, "second"),
                                                                       (1, "first")]
    recent = run("log")
    assert recent.exit_code == 0, recent.output
    lines = recent.stdout.splitlines()
    assert len(lines) == 3 and "support/greeting v2  ann@example.com" in lines[0], lines
    assert {line.split("  ")[1] for line in lines[1:]} == {"support/greeting v1",
                                                           "billing/refund v1"}
    limited = json.loads(run("log", "-n", "1", "--json").stdout)
    assert limited["slug"] is None and len(limited["versions"]) == 1
    newest = limited["versions"][0]
    assert (newest["slug"], newest["version"]) == ("support/greeting", 2)
    assert newest["author"].startswith("ann@example.com") and newest["created_at"]


def test_log_of_a_project_with_no_versions_says_so(run: Run, prompts: Path) -> None:
    empty = run("log")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "no versions yet in project 'demo'" in empty.stderr


def test_a_diff_with_no_differences_says_so_on_stderr(run: Run, prompts: Path) -> None:
    write_files(prompts, {"support/greeting.yaml": GREETING})
    assert run("push").exit_code == 0
    local = run("diff", "support/greeting")
    assert (local.exit_code, local.stdout) == (0, "")
    assert local.stderr == ("no differences between support/greeting@v1 and "
                            "prompts/support/greeting.yaml\n")
    server = run("diff", "support/greeting", "1", "1")
    assert (server.exit_code, server.stdout) == (0, "")
    assert "no differences between support/greeting@v1 and support/greeting@v1" in server.stderr


def test_a_typo_in_render_variables_is_pointed_out(run: Run, prompts: Path) -> None:
    write_files(prompts, {"support/greeting.yaml": GREETING.replace(
        "{description: customer first name, default: there}", "{required: true}")})
    assert run("push").exit_code == 0
    typo = run("render", "support/greeting", "-v", "nmae=Ann", "-v", "topic=billing")
    assert typo.exit_code == 1
    assert "unknown variables: nmae (did you mean 'name'?)" in typo.stderr, typo.stderr


def test_shell_completion_comes_from_click(tmp_path: Path) -> None:
    env = {**os.environ, "_PROMPTSYNC_COMPLETE": "bash_complete",
           "COMP_WORDS": "promptsync status --", "COMP_CWORD": "2"}
    done = subprocess.run([tool("promptsync")], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert {"plain,--exit-code", "plain,--json"} <= set(done.stdout.splitlines())
    source = subprocess.run([tool("promptsync")], env={**os.environ,
                            "_PROMPTSYNC_COMPLETE": "bash_source"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert "complete -o nosort -F _promptsync_completion promptsync" in source.stdout


def test_a_clone_folder_named_promptsync_does_not_shadow_the_package(tmp_path: Path) -> None:
    # ~/src/promptsync/ (a clone: no __init__.py at its top) beside ~/src/use.py: Python takes
    # the folder for a namespace package before setuptools' editable hook is asked, unless the
    # checkout is on sys.path, as the Makefile's install puts it.
    clone = tmp_path / "promptsync"
    write_files(clone, {"README.md": "# promptsync\n", "pyproject.toml": ""})
    (tmp_path / "use.py").write_text("from promptsync import Client\nprint(Client.__name__)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "use.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "Client\n"), done.stderr


def test_make_dev_installs_without_setuptools_editable_warning_box(tmp_path: Path) -> None:
    # The first `make dev` printed setuptools' 9-line "!! Editable installation … folders with
    # the same name as your package" box, about the very case the .pth line above handles.
    done = subprocess.run(["make", "-n", "-f", str(REPO_ROOT / "Makefile"),
                           f"VENV={tmp_path / 'venv'}", "dev", "test", "demo"], cwd=REPO_ROOT,
                          env=outside_make(), capture_output=True, text=True, timeout=60)
    # A set: make -n runs test's recursive $(MAKE) lint suite, which lists the stamps again.
    installs = {line for line in done.stdout.splitlines()
                if "pip install" in line and " -e " in line}
    assert len(installs) == 3, done.stdout
    assert all(line.startswith('PYTHONWARNINGS="ignore:Editable installation" ')
               for line in installs), installs


RESOLVE = "promptsync pull --force takes the server's, promptsync push --force keeps yours"


def test_push_pull_and_watch_give_the_same_advice_on_a_conflict(
        run: Run, prompts: Path, app: Flask, account: Account) -> None:
    write_files(prompts, {"support/greeting.yaml": GREETING})
    assert run("push").exit_code == 0
    other = app.test_client().post("/api/v1/projects/demo/prompts/support/greeting",
                                   json={"source": GREETING + "# theirs\n"},
                                   headers=account.headers("editor"))
    assert other.status_code == 201
    write_files(prompts, {"support/greeting.yaml": GREETING + "# mine\n"})
    pushed = run("push")
    assert pushed.exit_code == 1
    assert ("rejected: support/greeting is at v2 on the server, your file is based on v1: "
            + RESOLVE) in pushed.stderr.splitlines()
    pulled = run("pull")
    assert pulled.exit_code == 1
    assert ("refused: support/greeting: the file has local changes and the server has v2: "
            + RESOLVE) in pulled.stderr.splitlines(), pulled.stderr
    said: list[str] = []
    EventLog(said.append).conflict("support/greeting", 2, "sha")
    assert said == ["support/greeting: conflict: changed here and on the server (v2); neither "
                    f"side touched ({RESOLVE})"]
