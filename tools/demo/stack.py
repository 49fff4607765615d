"""The real things the demo shows: `promptsync dev` on a throwaway copy of prompts/, and a shell."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE = 60.0
NEEDED = ("bash", "curl", "jq", "vim")


def missing_tools() -> list[str]:
    """The commands the demo runs that this machine lacks."""
    return [name for name in NEEDED if shutil.which(name) is None]


def _port(preferred: int = 5000) -> int:
    # The README's URLs use 5000; any free port when something already listens there.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server will: a port left in TIME_WAIT by a previous run is free to listen on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevStack:
    """`promptsync dev` in a copy of the repository's prompts/ under ``workdir``; a context manager.

    Its environment is its own: a config home in ``workdir`` (never the user's credentials) and
    none of the caller's PROMPTSYNC_* settings; commands run in the copy find the dev key in
    its .promptsync/.
    """

    def __init__(self, workdir: Path) -> None:
        self.root = workdir / "repo"
        shutil.copytree(REPO / "prompts", self.root / "prompts")
        shutil.copyfile(REPO / "promptsync.yaml", self.root / "promptsync.yaml")
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = ["promptsync", "dev"] + ([] if self.port == 5000 else
                                                 ["--port", str(self.port)])
        self.log_path = workdir / "dev.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTSYNC_")}
        self.env.update(XDG_CONFIG_HOME=str(workdir / "config"), PYTHONUNBUFFERED="1")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start `promptsync dev` and wait until it watches the files."""
        binary = Path(sys.executable).with_name("promptsync")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(binary), *self.command[1:]], cwd=self.root, env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for_log("watching prompts/")
        return self

    def stop(self) -> None:
        """Ctrl-C, as a user stops it (it then stops its server); SIGKILL if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def log(self) -> str:
        """Everything `promptsync dev` printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, deadline: float = START_DEADLINE) -> None:
        """Wait until ``text`` appears in the log; fail with the log when it does not."""
        end = time.monotonic() + deadline
        while text not in self.log():
            if self.process is None or self.process.poll() is not None:
                raise SystemExit(f"promptsync dev stopped before printing {text!r}:\n"
                                 f"{self.log()}")
            if time.monotonic() > end:
                raise SystemExit(f"promptsync dev did not print {text!r} within {deadline:g} s:"
                                 f"\n{self.log()}")
            time.sleep(0.05)

    def log_tail(self) -> list[str]:
        """The log from its "ready" line on: the first lines hold the password and the key."""
        lines = self.log().splitlines()
        start = max((i for i, line in enumerate(lines) if line.startswith("ready in")),
                    default=len(lines))
        return lines[start:]

    def account(self) -> dict[str, str]:
        """The local user `promptsync dev` created (email, password, project, key)."""
        path = self.root / ".promptsync" / "dev-account.json"
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def run(self, command: str) -> str:
        """Run ``command`` with bash in the repository; its output (stdout, then stderr)."""
        done = subprocess.run(["bash", "-c", command], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise SystemExit(f"{command!r} failed ({done.returncode}):\n{done.stdout}"
                             f"{done.stderr}")
        return done.stdout + done.stderr
