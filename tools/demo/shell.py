"""Steps 2 to 4 of the demo: curl, a save in vim that `promptsync dev` pushes, curl again."""

from __future__ import annotations

from tools.demo.admin import ADDED_LINE, SLUG
from tools.demo.frames import Frame, captioned
from tools.demo.stack import DevStack
from tools.demo.terminal import Line, editor, plain, shell, two_panes

EXPORT = "export PROMPTSYNC_API_KEY=$(cat .promptsync/dev-api-key)"
FILE = f"prompts/{SLUG}.yaml"
OLD, NEW = "one business day", "four hours"
VIM_COMMAND = f"%s/{OLD}/{NEW}/ | wq"
VIM = f"vim -es -c '{VIM_COMMAND}' {FILE}"


def fetch_command(url: str) -> str:
    """The curl line of the README, trimmed by jq to what changes."""
    return (f'curl -s -H "X-API-Key: $PROMPTSYNC_API_KEY" \\\n'
            f"    {url}/api/v1/prompts/{SLUG} \\\n"
            """    | jq -r '"version \\(.version)", .template'""")


class Session:
    """What the two panes show so far; each call adds frames of the real commands' output."""

    def __init__(self, stack: DevStack) -> None:
        self.stack = stack
        self.history: list[Line] = []
        self.title = f"bash — {stack.root.name}"
        self.top_label = "$ " + " ".join(stack.command)
        if stack.command == ["promptsync", "dev"]:
            self.top_label += "      # what `make dev` runs"

    def _log(self) -> list[Line]:
        lines: list[Line] = []
        for raw in self.stack.log_tail():
            text = plain(raw)
            synced = ": pulled v" in text or ": pushed v" in text
            lines.append([(text, "new" if synced else "dim")])
        return lines

    def picture(self, step: int, caption: str, extra: list[Line] | None = None,
                cursor: bool = False, ms: int = 1000) -> Frame:
        """The terminal as it is now, with ``extra`` lines typed at the prompt."""
        body = two_panes(self.title, self.top_label, self._log(), "$ bash",
                         self.history + (extra or []), cursor=cursor)
        return Frame(captioned(body, step, caption), ms)

    def type_and_run(self, step: int, caption: str, command: str, shown: str | None = None,
                     hold: int = 2800) -> list[Frame]:
        """Type ``shown`` (default ``command``) at the prompt in a few frames, run ``command``."""
        shown = shown if shown is not None else command
        frames = [self.picture(step, caption, shell(shown[:cut]), cursor=True, ms=220)
                  for cut in (len(shown) // 3, 2 * len(shown) // 3)]
        frames.append(self.picture(step, caption, shell(shown), cursor=True, ms=450))
        output = self.stack.run(command)
        self.history += shell(shown) + [plain(line) for line in output.splitlines()]
        frames.append(self.picture(step, caption, [[("$ ", "prompt")]], cursor=True, ms=hold))
        return frames


def terminal_steps(stack: DevStack) -> list[Frame]:
    """Steps 2 to 4 as frames; expects the admin's save (v2) already pulled into the file."""
    session = Session(stack)
    fetch = fetch_command(stack.url)
    caption = "Fetch it with curl (promptsync dev already pulled it into the file)"
    frames = session.type_and_run(2, caption, f"{EXPORT}\n{fetch}", shown=fetch)
    if ADDED_LINE not in (stack.root / FILE).read_text(encoding="utf-8"):
        raise SystemExit(f"the admin's edit is not in {FILE}")

    caption = "Save in a text editor: promptsync dev pushes it as a new version"
    session.history += shell(VIM)
    stack.run(VIM)
    saved = (stack.root / FILE).read_text(encoding="utf-8")
    if NEW not in saved:
        raise SystemExit(f"vim did not save the edit into {FILE}")
    frames.append(Frame(captioned(editor(f"vim {FILE}", saved, NEW, ":" + VIM_COMMAND), 3,
                                  caption), 2200))
    stack.wait_for_log(f"{SLUG}: pushed v3", deadline=15)
    frames.append(session.picture(3, caption, [[("$ ", "prompt")]], cursor=True, ms=2400))

    caption = "Fetch again: the version saved from the editor"
    frames += session.type_and_run(4, caption, f"{EXPORT}\n{fetch}", shown=fetch, hold=3600)
    return frames
