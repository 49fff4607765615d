"""Frames of the demo: their size, fonts, the caption strip, and the animated GIF they make."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH = 880  # the README's column on GitHub is about this wide: no scaling, so text stays sharp
CAPTION_HEIGHT = 44
BODY_HEIGHT = 520
HEIGHT = CAPTION_HEIGHT + BODY_HEIGHT
CAPTION_BG = "#161b26"  # the admin's top bar, so the strip reads as part of the product
CAPTION_FG = "#f5f7fb"
CAPTION_STEP_BG = "#3b5bdb"

# Looked up by file name: Pillow searches the system's font folders (Linux, macOS, Windows).
MONO_FONTS = ("DejaVuSansMono.ttf", "Menlo.ttc", "Consolas.ttf", "LiberationMono-Regular.ttf")
MONO_BOLD_FONTS = ("DejaVuSansMono-Bold.ttf", "Menlo.ttc", "consolab.ttf",
                   "LiberationMono-Bold.ttf")
SANS_BOLD_FONTS = ("DejaVuSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf",
                   "LiberationSans-Bold.ttf")


@dataclass(frozen=True)
class Frame:
    """One picture of the animation and how long it stays, in milliseconds."""

    image: Image.Image
    ms: int


def _first_font(names: tuple[str, ...], size: int) -> ImageFont.FreeTypeFont:
    for name in names:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    raise SystemExit(f"none of the fonts {', '.join(names)} is installed "
                     "(Debian: apt-get install fonts-dejavu-core)")


@cache
def mono(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A monospaced font (DejaVu Sans Mono where it is installed)."""
    return _first_font(MONO_BOLD_FONTS if bold else MONO_FONTS, size)


@cache
def sans_bold(size: int) -> ImageFont.FreeTypeFont:
    """A bold proportional font for captions."""
    return _first_font(SANS_BOLD_FONTS, size)


def captioned(body: Image.Image, step: int, text: str) -> Image.Image:
    """The body under a strip that says which step of the demo this is."""
    if body.size != (WIDTH, BODY_HEIGHT):
        raise ValueError(f"a body is {WIDTH}x{BODY_HEIGHT}, not {body.width}x{body.height}")
    canvas = Image.new("RGB", (WIDTH, HEIGHT), CAPTION_BG)
    draw = ImageDraw.Draw(canvas)
    font = sans_bold(17)
    middle = CAPTION_HEIGHT // 2
    draw.rounded_rectangle((16, middle - 13, 42, middle + 13), radius=6, fill=CAPTION_STEP_BG)
    draw.text((29, middle), str(step), font=font, fill=CAPTION_FG, anchor="mm")
    draw.text((56, middle), text, font=font, fill=CAPTION_FG, anchor="lm")
    canvas.paste(body.convert("RGB"), (0, CAPTION_HEIGHT))
    return canvas


def write_gif(frames: list[Frame], path: Path) -> None:
    """Write the frames as a looping GIF; one adaptive palette per frame, no dithering.

    Dithering would sprinkle noise over flat backgrounds: it blurs text and defeats the
    compression. Pillow stores each frame as the rectangle that changed since the one before.
    """
    if not frames:
        raise ValueError("no frames")
    images = [f.image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
              for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:],
                   duration=[f.ms for f in frames], loop=0, optimize=True)
