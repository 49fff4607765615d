"""Plain text, Markdown and CSV sources: each text becomes a text prompt, kept exactly.

Their texts have no template language: every "{{" in them is literal and is escaped ("\\{{"),
so that rendering gives back the text as it was. What a prompt file cannot hold as text is
reported and the source skipped: "{% ... %}" on one line, which the lint reads as template logic.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

from promptsync.format.source import position
from promptsync.format.templates import escape_braces, template_syntax
from promptsync.importing.model import Found, Skipped

# Which CSV column holds the name and which the text, when the options do not say: the first
# header found, ignoring case (awesome-chatgpt-prompts' CSV has "act" and "prompt").
NAME_COLUMNS = ("name", "title", "act", "slug", "id")
TEXT_COLUMNS = ("prompt", "text", "template", "content", "system_prompt", "instructions")
# The csv module refuses fields over 128 KiB by default; a prompt file may hold 256 KiB.
_FIELD_LIMIT = 4 * 1024 * 1024


def decode(data: bytes, origin: str) -> str | Skipped:
    """The text of a source file: UTF-8, a leading byte order mark dropped (it is no text)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return Skipped(origin, f"not UTF-8 (invalid byte 0x{data[exc.start]:02x} on line "
                               f"{line}); convert it to UTF-8 first")


def text_prompt(origin: str, name: str, text: str, folder: tuple[str, ...] = (),
                metadata: dict[str, str] | None = None) -> Found | Skipped:
    """A text prompt whose render is ``text`` exactly, or why a prompt file cannot hold it."""
    if not text.strip():
        return Skipped(origin, "the text is empty")
    template = escape_braces(text)
    for offset, snippet, _ in template_syntax(template):  # with "{{" escaped: logic only
        line = position(text, offset)[0]
        return Skipped(origin, f"'{snippet}' on line {line} reads as template logic, which a "
                               "prompt file refuses (only {{ name }} placeholders)")
    fields = {"metadata": metadata} if metadata else {}
    return Found(origin, name, {**fields, "template": template}, folder)


def _column(headers: list[str], wanted: str | None, defaults: tuple[str, ...],
            option: str) -> int | str:
    """The index of a column by name (any case) or 1-based number; or why none fits."""
    folded = [h.strip().casefold() for h in headers]
    if wanted is not None:
        if wanted.strip().casefold() in folded:
            return folded.index(wanted.strip().casefold())
        if wanted.isdigit() and 1 <= int(wanted) <= len(headers):
            return int(wanted) - 1
        return f"no column '{wanted}' ({option}); the columns are: {', '.join(headers)}"
    for candidate in defaults:
        if candidate in folded:
            return folded.index(candidate)
    return (f"no column named {' or '.join(defaults)}: name it with {option}; the columns "
            f"are: {', '.join(headers)}")


def csv_prompts(origin: str, text: str, stem: str, name_column: str | None = None,
                text_column: str | None = None) -> Iterator[Found | Skipped]:
    """One text prompt per row; the other columns go to metadata."""
    # newline="": a quoted field's CRLF stays in the text, as the file has it.
    rows = csv.reader(io.StringIO(text, newline=""))
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    try:
        headers = next(rows, None)
        if headers is None:
            yield Skipped(origin, "the CSV file is empty")
            return
        text_at = _column(headers, text_column, TEXT_COLUMNS, "--text-column")
        name_at = _column(headers, name_column, NAME_COLUMNS, "--name-column")
        if isinstance(text_at, str):
            yield Skipped(origin, text_at)
            return
        if isinstance(name_at, str) and name_column is not None:
            yield Skipped(origin, name_at)
            return
        for number, row in enumerate(rows, 1):
            where = f"{origin} row {number}"
            if not any(cell.strip() for cell in row):
                continue  # a blank line between rows is no prompt
            cells = row + [""] * (len(headers) - len(row))
            if isinstance(name_at, int) and cells[name_at].strip():
                name = cells[name_at].strip()
            else:
                name = f"{stem}-{number}"
            others = {h: c for i, (h, c) in enumerate(zip(headers, cells, strict=False))
                      if i not in (text_at, name_at) and c.strip() and h.strip()}
            yield text_prompt(where, name, cells[text_at], metadata=others)
    except csv.Error as exc:
        yield Skipped(origin, f"not a readable CSV file (line {rows.line_num}: {exc})")
