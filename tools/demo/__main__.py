"""`python -m tools.demo [OUTPUT]`: regenerate the README's animated demo (docs/demo.gif).

Runs `promptsync dev` on a throwaway copy of prompts/, saves an edit in the admin with headless
Debian Chromium, then runs curl, vim and curl again in a shell and draws their real output as
terminal frames; Pillow assembles the lot into a looping GIF. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.support.browser import browser_unavailable
from tools.demo.admin import edit_in_admin
from tools.demo.frames import write_gif
from tools.demo.shell import terminal_steps
from tools.demo.stack import REPO, DevStack, missing_tools

OUTPUT = REPO / "docs" / "demo.gif"
MAX_BYTES = 2 * 1024 * 1024  # GitHub shows bigger files, but the README should load quickly


def main(argv: list[str] | None = None) -> int:
    """Make the animation; 1 when something it needs is missing or it came out too big."""
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__)
    parser.add_argument("output", nargs="?", type=Path, default=OUTPUT,
                        help=f"where to write the GIF (default {OUTPUT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    problems = [f"{name} is not installed" for name in missing_tools()]
    browser = browser_unavailable()
    if browser is not None:
        problems.append(browser)
    if problems:
        print("cannot make the demo: " + "; ".join(problems), file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="promptsync-demo-") as tmp:
        with DevStack(Path(tmp)) as stack:
            account = stack.account()
            frames = edit_in_admin(stack.url, account["email"], account["password"],
                                   account["project"])
            # The watcher polls the server every 2 s; step 2 shows the file it pulled.
            stack.wait_for_log("support/greeting: pulled v2", deadline=15)
            frames += terminal_steps(stack)
    write_gif(frames, args.output)
    size = args.output.stat().st_size
    seconds = sum(f.ms for f in frames) / 1000
    print(f"{args.output}: {len(frames)} frames, {seconds:.1f} s, {size / 1024:.0f} KiB")
    if size > MAX_BYTES:
        print(f"too big: over {MAX_BYTES // 1024} KiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
