"""The pre-commit hook of .pre-commit-hooks.yaml, run by the real pre-commit in a sample repository.

pre-commit installs a `language: python` hook from `repo: <path>` by building a virtualenv and
`pip install`-ing this package with its dependencies, which needs a package index (tried by hand:
it works, ~10 s with the index reachable). Tests reach nothing but loopback, so here the sample
repository declares the same hook as `repo: local` with `language: system` (the promptsync of
this virtualenv on the PATH): every other field is read from .pre-commit-hooks.yaml as it is.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.live import REPO_ROOT, VENV_BIN, tool, write_files

HOOKS = REPO_ROOT / ".pre-commit-hooks.yaml"
VALID = "variables:\n  name: {required: true}\ntemplate: |\n  Hello {{ name }}.\n"
INVALID = "variables:\n  nmae: {required: true}\ntemplate: |\n  Hello {{ name }}.\n"


def the_hook() -> dict[str, Any]:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert isinstance(hook, dict)
    return hook


def test_the_hooks_file_declares_promptsync_lint() -> None:
    hook = the_hook()
    assert (hook["id"], hook["entry"], hook["language"]) == (
        "promptsync-lint", "promptsync lint", "python")
    # lint judges the prompts folder as one tree; other YAML in the commit is no prompt.
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert all(files.search(p) for p in ("prompts/a/b.yaml", "prompts/c.yml", "x/D.YAML"))
    assert not any(files.search(p) for p in ("README.md", "prompts/a.yaml.swp", "a.json"))
    checked = subprocess.run([tool("pre-commit"), "validate-manifest", str(HOOKS)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   cwd=root, check=True, capture_output=True, timeout=60)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A git repository with promptsync.yaml, a valid prompt, CI YAML, and the hook configured."""
    root = tmp_path / "sample"
    root.mkdir()
    git(root, "init", "-q")
    hook = {**the_hook(), "language": "system"}
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    write_files(root, {
        "promptsync.yaml": "server: http://127.0.0.1:9\nproject: demo\ndir: prompts\n",
        "prompts/support/greeting.yaml": VALID,
        ".github/workflows/ci.yaml": "on: [push]\njobs: {}\n",  # no prompt: never judged as one
        ".pre-commit-config.yaml": yaml.safe_dump(config),
    })
    git(root, "add", "-A")
    return root


def run_all(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(root.parent / "pre-commit-home"),
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([tool("pre-commit"), "run", "--all-files", "--color", "never"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_pre_commit_runs_promptsync_lint_on_the_prompts(sample: Path) -> None:
    passed = run_all(sample)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"promptsync lint\.+Passed", passed.stdout), passed.stdout
    write_files(sample, {"prompts/support/typo.yaml": INVALID})
    git(sample, "add", "-A")
    failed = run_all(sample)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"promptsync lint\.+Failed", failed.stdout), failed.stdout
    assert "prompts/support/typo.yaml:4:9: placeholder '{{ name }}'" in failed.stdout


def test_a_commit_without_yaml_skips_the_hook(sample: Path) -> None:
    git(sample, "commit", "-q", "-m", "prompts")
    write_files(sample, {"README.md": "# prompts\n"})
    git(sample, "add", "README.md")
    env = {**os.environ, "PRE_COMMIT_HOME": str(sample.parent / "pre-commit-home")}
    staged = subprocess.run([tool("pre-commit"), "run", "--color", "never"], cwd=sample,
                            env=env, capture_output=True, text=True, timeout=120)
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert re.search(r"promptsync lint\.+\(no files to check\)Skipped", staged.stdout)
