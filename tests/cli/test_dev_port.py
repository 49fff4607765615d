"""`promptsync dev` on a port something else answers on: one line naming the port and `--port`,
exit 1, never "ready" and never an error about the dev account's password.

The squatter is a plain loopback HTTP server that looks like another `promptsync dev`: /healthz
answers 200, signup 409 and login 401 (what made dev report "exists with another password").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from promptsync.dev import stack
from promptsync.dev.stack import DevServer, port_in_use
from promptsync.errors import ConfigError
from tests.support.environment import command_env
from tests.support.live import REPO_ROOT, free_port, tool


class _Squatter(BaseHTTPRequestHandler):
    """Answers like a dev server of another repository would."""

    def _answer(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path == "/healthz":
            self._answer(200, {"status": "ok"})
        else:
            self._answer(404, {"error": "not_found", "detail": "no"})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/auth/signup"):
            self._answer(409, {"error": "conflict", "detail": "exists"})
        else:
            self._answer(401, {"error": "unauthorized", "detail": "wrong password"})

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def squatter() -> Iterator[int]:
    """The port of a loopback HTTP server that is not ours."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Squatter)
    thread = threading.Thread(target=server.serve_forever, name="squatter", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_port_in_use(squatter: int) -> None:
    assert port_in_use("127.0.0.1", squatter)
    assert not port_in_use("127.0.0.1", free_port())


def test_dev_on_a_port_in_use_says_so_in_one_line(squatter: int, tmp_path: Path) -> None:
    root = tmp_path / "clone"
    shutil.copytree(REPO_ROOT / "prompts", root / "prompts")
    shutil.copy(REPO_ROOT / "promptsync.yaml", root / "promptsync.yaml")
    before = (root / "promptsync.yaml").read_bytes()
    done = subprocess.run([tool("promptsync"), "dev", "--port", str(squatter)], cwd=root,
                          env=command_env(tmp_path / "xdg"), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == (f"error: port {squatter} is in use: stop what uses it, or run "
                           f"promptsync dev --port {squatter + 1}\n")
    assert (root / "promptsync.yaml").read_bytes() == before
    # Told before any server was started: nothing was written, no server log to read.
    assert not (root / ".promptsync" / "dev-server.log").exists()


def test_a_server_that_is_not_ours_is_never_taken_for_ready(
    squatter: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The port is taken between the check and the child's bind (the check is skipped here): the
    # squatter's 200 on /healthz does not make the start succeed; the child's exit says why.
    monkeypatch.setattr(stack, "port_in_use", lambda host, port: False)
    server = DevServer(tmp_path / ".promptsync", squatter)
    with pytest.raises(ConfigError, match=f"^port {squatter} is in use: stop what uses it"):
        server.start()
    assert server.process is None
