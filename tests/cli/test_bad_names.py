"""A tree-wide `lint` and `status` report every file that looks like a prompt but cannot be one:
an extension in another case (.YAML), uppercase, spaces, non-ASCII, hidden names; never a skip
in silence. tests/data/badslugs is the corpus; the in-process app answers status."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from click.testing import CliRunner
from flask import Flask

from promptsync.cli import cli
from promptsync.cli.context import Obj
from tests.support.app import GREETING, Account
from tests.support.cli import run_cli
from tests.support.live import write_files

BADSLUGS = Path(__file__).resolve().parents[1] / "data" / "badslugs"
# Every name in tests/data/badslugs that ends in .yaml or .yml in any case: all reported.
REPORTED = sorted([
    "-.yaml", "-leading-dash.yaml", ".hidden.yaml", "Greeting.yaml", "UPPER/fine-name.yaml",
    "_underscore-first.yaml", "a/b/c/d/e/f/g/h/nine-segments.yaml", "has space.yaml",
    "prompt.YAML", "x" * 201 + ".yaml", "ünïcode.yaml",
])


def _copy_badslugs(prompts: Path) -> None:
    shutil.rmtree(prompts)
    shutil.copytree(BADSLUGS, prompts)
    write_files(prompts, {"good.yaml": GREETING, "also/ok.yml": GREETING})


def _reported(lines: list[str]) -> list[str]:
    return sorted(line.split(": bad file name: ")[0].removeprefix("prompts/")
                  for line in lines if ": bad file name: " in line)


def test_lint_reports_every_badly_named_file(repo: Path) -> None:
    _copy_badslugs(repo / "prompts")
    result = CliRunner().invoke(cli, ["lint"], obj=Obj())
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert _reported(lines) == REPORTED
    assert ("prompts/prompt.YAML: bad file name: a prompt file name must end in .yaml or .yml "
            "(lowercase): rename it to prompt.yaml") in lines
    assert f"2 ok, {len(REPORTED)} with problems" in result.stderr


def test_lint_of_a_folder_outside_a_repository_reports_them_too(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    shutil.copytree(BADSLUGS, folder)
    result = CliRunner().invoke(cli, ["lint", str(folder)], obj=Obj())
    assert result.exit_code == 1, result.output
    assert sorted(line.split(": bad file name: ")[0].removeprefix(f"{folder}/")
                  for line in result.stdout.splitlines()) == REPORTED


def test_status_reports_badly_named_files_and_exits_1(
    repo: Path, app: Flask, account: Account
) -> None:
    _copy_badslugs(repo / "prompts")
    transport = httpx.WSGITransport(app=app)
    result = run_cli(transport, "status", api_key=account.keys["editor"])
    assert result.exit_code == 1, result.output
    invalid = [line.removeprefix("invalid").strip() for line in result.stdout.splitlines()
               if line.startswith("invalid")]
    assert _reported(invalid) == REPORTED
    assert any(line.startswith("new") and " good " in f"{line} " for line in
               result.stdout.splitlines()), result.stdout


def test_status_of_a_clean_tree_still_exits_0(repo: Path, app: Flask, account: Account) -> None:
    write_files(repo / "prompts", {"good.yaml": GREETING})
    result = run_cli(httpx.WSGITransport(app=app), "status", api_key=account.keys["editor"])
    assert result.exit_code == 0, result.output


def test_lint_quotes_a_placeholder_as_written_in_the_file(repo: Path) -> None:
    write_files(repo / "prompts", {"a.yaml": "variables:\n  name: {}\n"
                                             "template: 'Hi {{name}} and {{ Topic }}'\n"})
    result = CliRunner().invoke(cli, ["lint"], obj=Obj())
    assert result.exit_code == 1
    assert "placeholder '{{ Topic }}' is not declared under variables" in result.stdout
