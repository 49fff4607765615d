"""`promptsync watch` as a child process for the watch cases: started, read, measured, stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .common import Account


def promptsync_exe() -> str:
    """The installed console script beside this Python, else the one on PATH."""
    exe = Path(sys.executable).with_name("promptsync")
    return str(exe) if exe.exists() else (shutil.which("promptsync") or "promptsync")


def make_repo(root: Path, account: Account) -> Path:
    """A repository with promptsync.yaml pointing at the account's project; returns prompts/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "promptsync.yaml").write_text(
        f"server: {account.base}\nproject: {account.project}\ndir: prompts\n", encoding="utf-8")
    prompts = root / "prompts"
    prompts.mkdir(exist_ok=True)
    return prompts


class WatchProcess:
    """`promptsync watch` in ``root`` with the account's editor key; stderr kept as lines."""

    def __init__(self, root: Path, account: Account, deadline: float = 120.0,
                 pythonpath: str = "") -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTSYNC_")}
        env.update(PROMPTSYNC_API_KEY=account.keys["editor"], PYTHONUNBUFFERED="1",
                   XDG_CONFIG_HOME=str(root / ".xdg"))
        if pythonpath:  # another checkout's promptsync package, ahead of the installed one
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [promptsync_exe(), "watch"], cwd=root, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        end = time.monotonic() + deadline
        while not any(line.startswith("watching") for line in self.lines):
            if self.process.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("promptsync watch did not start:\n" + "\n".join(self.lines))
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MB."""
        values = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1]) / 1024
        return values["VmRSS"], values["VmHWM"]

    def stop(self) -> int:
        """SIGTERM (then SIGKILL after 10 s); the exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.returncode

    def __enter__(self) -> WatchProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
