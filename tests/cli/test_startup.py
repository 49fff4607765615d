"""Start-up cost: commands that never reach the server do not import the HTTP client.

httpx costs ~0.1 s to import (more when rich is installed, which httpx's own CLI then loads), and
PyYAML ~0.02 s; `promptsync --help`, `lint` and `init` need neither (--help) or only the second.
Each case runs in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import command_env

HEAVY = ("httpx", "yaml", "watchdog", "promptsync.client.api", "promptsync.sync.engine")
PROBE = f"""
import sys
from promptsync.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("loaded:", *[m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)
sys.exit(code)
"""


def loaded(tmp_path: Path, *args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path,
                          env=command_env(tmp_path / "xdg"),
                          capture_output=True, text=True, timeout=60)
    line = done.stderr.splitlines()[-1]
    assert line.startswith("loaded:"), done.stderr
    assert done.returncode in (0, 1), done.stderr
    return set(line.split()[1:])


@pytest.mark.parametrize("args", [["--help"], ["push", "--help"], ["backup", "--help"],
                                  ["dev", "--help"], ["--version"]])
def test_help_loads_no_client_and_no_yaml(tmp_path: Path, args: list[str]) -> None:
    assert loaded(tmp_path, *args) == set()


def test_offline_commands_load_no_http_client(tmp_path: Path) -> None:
    assert loaded(tmp_path, "init", "--server", "http://127.0.0.1:9", "--project", "p") == {
        "yaml"}
    (tmp_path / "prompts" / "a.yaml").write_text("template: hi\n")
    assert "httpx" not in loaded(tmp_path, "lint")
    assert "httpx" not in loaded(tmp_path, "status")  # no key stored: refused before a request


def test_the_probe_sees_a_command_that_does_use_the_network(tmp_path: Path) -> None:
    """The probe itself works: status with a key does load the client (and fails to connect)."""
    loaded(tmp_path, "init", "--server", "http://127.0.0.1:9", "--project", "p")
    got = loaded(tmp_path, "--api-key", "psk_00000000_x", "status")
    assert {"httpx", "promptsync.client.api", "promptsync.sync.engine"} <= got


def test_a_networked_command_leaves_out_httpx_own_command_line(tmp_path: Path) -> None:
    """httpx imports its `httpx` command (rich, pygments) whenever they are installed; the CLI
    keeps it out of its process (~40 ms a command). Where rich is missing this holds anyway."""
    loaded(tmp_path, "init", "--server", "http://127.0.0.1:9", "--project", "p")
    probe = PROBE.replace(repr(HEAVY), repr(("httpx", "rich", "pygments")))
    done = subprocess.run([sys.executable, "-c", probe, "--api-key", "psk_00000000_x", "status"],
                          cwd=tmp_path, env=command_env(tmp_path / "xdg"),
                          capture_output=True, text=True, timeout=60)
    assert done.stderr.splitlines()[-1].split()[1:] == ["httpx"], done.stderr
