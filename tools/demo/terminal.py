"""Terminal-looking pictures of real command output: a two-pane terminal and an editor view."""

from __future__ import annotations

import re

from PIL import Image, ImageDraw

from tools.demo.frames import BODY_HEIGHT, WIDTH, mono

# A line is a list of (text, style) segments; a plain str is one "out" segment.
Line = list[tuple[str, str]] | str

BG = "#0d1117"
TITLE_BG = "#21262d"
PANE_LABEL_BG = "#161b22"
DIVIDER = "#30363d"
STYLES = {
    "prompt": "#7ee787", "cmd": "#f0f6fc", "out": "#c9d1d9", "dim": "#8b949e",
    "new": "#ffd866", "tilde": "#4a6fa5", "changed": "#f0f6fc",
}
CHANGED_BG = "#2b3a1f"
FONT_SIZE = 15
LINE_HEIGHT = 21
PAD = 14
TITLE_HEIGHT = 30
LABEL_HEIGHT = 24
TOP_LINES = 6
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def columns() -> int:
    """How many characters fit across the terminal."""
    return int((WIDTH - 2 * PAD) // mono(FONT_SIZE).getlength("M"))


def plain(text: str) -> str:
    """Text as a terminal shows it: no colour codes, tabs expanded, no trailing space."""
    return ANSI.sub("", text).expandtabs(8).rstrip()


def shell(command: str, prompt: str = "$ ") -> list[Line]:
    """A command as typed at a shell prompt; continuation lines get bash's "> "."""
    first, *rest = command.split("\n")
    return [[(prompt, "prompt"), (first, "cmd")], *([("> ", "prompt"), (line, "cmd")]
                                                       for line in rest)]


def _segments(line: Line) -> list[tuple[str, str]]:
    return [(line, "out")] if isinstance(line, str) else line


def _clip(segments: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    room = width
    for text, style in segments:
        if len(text) > room:
            kept.append((text[: max(room - 1, 0)] + "…", style))
            break
        kept.append((text, style))
        room -= len(text)
    return kept


def _draw_lines(draw: ImageDraw.ImageDraw, lines: list[Line], top: int,
                cursor: bool = False) -> None:
    font = mono(FONT_SIZE)
    step = font.getlength("M")
    y = top
    x = float(PAD)
    for line in lines:
        x = float(PAD)
        for text, style in _clip(_segments(line), columns()):
            draw.text((x, y), text, font=font, fill=STYLES[style])
            x += step * len(text)
        y += LINE_HEIGHT
    if cursor and lines:
        y -= LINE_HEIGHT
        draw.rectangle((x + 1, y + 2, x + step, y + LINE_HEIGHT - 2), fill=STYLES["cmd"])


def _title_bar(draw: ImageDraw.ImageDraw, title: str) -> None:
    draw.rectangle((0, 0, WIDTH, TITLE_HEIGHT), fill=TITLE_BG)
    for i, colour in enumerate(("#ff5f57", "#febc2e", "#28c840")):
        cx = 18 + 20 * i
        draw.ellipse((cx - 6, TITLE_HEIGHT // 2 - 6, cx + 6, TITLE_HEIGHT // 2 + 6), fill=colour)
    draw.text((WIDTH // 2, TITLE_HEIGHT // 2), title, font=mono(13), fill=STYLES["dim"],
              anchor="mm")


def _pane_label(draw: ImageDraw.ImageDraw, top: int, text: str) -> int:
    draw.rectangle((0, top, WIDTH, top + LABEL_HEIGHT), fill=PANE_LABEL_BG)
    draw.line((0, top, WIDTH, top), fill=DIVIDER)
    draw.text((PAD, top + LABEL_HEIGHT // 2), text, font=mono(13), fill=STYLES["dim"],
              anchor="lm")
    return top + LABEL_HEIGHT + 4


def two_panes(title: str, top_label: str, top: list[Line], bottom_label: str,
              bottom: list[Line], cursor: bool = False) -> Image.Image:
    """A terminal split in two: a log on top (its last lines), a shell below (its last lines)."""
    image = Image.new("RGB", (WIDTH, BODY_HEIGHT), BG)
    draw = ImageDraw.Draw(image)
    _title_bar(draw, title)
    y = _pane_label(draw, TITLE_HEIGHT, top_label)
    _draw_lines(draw, top[-TOP_LINES:], y)
    y = _pane_label(draw, y + TOP_LINES * LINE_HEIGHT + 6, bottom_label)
    room = (BODY_HEIGHT - y - PAD) // LINE_HEIGHT
    _draw_lines(draw, bottom[-room:], y, cursor=cursor)
    return image


def editor(title: str, text: str, changed: str, command_line: str) -> Image.Image:
    """A file in a vim-like view: numbered lines, the changed one marked, the typed command."""
    image = Image.new("RGB", (WIDTH, BODY_HEIGHT), BG)
    draw = ImageDraw.Draw(image)
    _title_bar(draw, title)
    font = mono(FONT_SIZE)
    step = font.getlength("M")
    rows = (BODY_HEIGHT - TITLE_HEIGHT - 2 * LINE_HEIGHT - PAD) // LINE_HEIGHT
    lines = [plain(line) for line in text.splitlines()]
    y = TITLE_HEIGHT + 8
    for number in range(rows):
        if number < len(lines):
            line = lines[number]
            if changed in line:
                draw.rectangle((0, y, WIDTH, y + LINE_HEIGHT - 1), fill=CHANGED_BG)
            draw.text((PAD, y), f"{number + 1:>3} ", font=font, fill=STYLES["dim"])
            shown = _clip([(line, "changed" if changed in line else "out")], columns() - 4)
            draw.text((PAD + 4 * step, y), shown[0][0], font=font, fill=STYLES[shown[0][1]])
        else:
            draw.text((PAD, y), "~", font=font, fill=STYLES["tilde"])
        y += LINE_HEIGHT
    status_y = BODY_HEIGHT - 2 * LINE_HEIGHT - 6
    draw.rectangle((0, status_y, WIDTH, status_y + LINE_HEIGHT), fill=TITLE_BG)
    draw.text((PAD, status_y + 1), title, font=font, fill=STYLES["cmd"])
    draw.text((PAD, status_y + LINE_HEIGHT + 2), command_line, font=font, fill=STYLES["cmd"])
    return image
