"""A Server-Sent Events parser, by the WHATWG rules (what /events/stream sends, any byte split).

Lines end in CRLF, LF or CR; a blank line dispatches the event gathered so far (none when it
has no data); ``:`` starts a comment; ``id`` without a NUL sets the last event id, which later
events keep; ``retry`` of ASCII digits sets the reconnection delay; unknown fields are ignored;
an event the stream ends before its blank line is dropped. Pure: no I/O, no httpx.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SseComment", "SseEvent", "SseParser"]


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its type (``message`` by default), data and the last event id."""

    type: str
    data: str
    last_id: str


@dataclass(frozen=True)
class SseComment:
    """A comment line (``: keep-alive``), its text after the colon and one space."""

    text: str


class SseParser:
    """Feed it the stream's bytes as they come; it hands back the events and comments complete."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        self._cr_ended = False  # the last line ended in a CR: an LF first in the next is its pair
        self._data: list[str] = []
        self._type = ""
        self.last_id = ""
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[SseEvent | SseComment]:
        """Parse what this chunk completes; a partial line waits for the next chunk."""
        text = self._decoder.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")  # one BOM at the very start is not data
        if self._cr_ended and text:
            self._cr_ended = False
            text = text.removeprefix("\n")
        self._buffer += text
        items: list[SseEvent | SseComment] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return items
            end, after = cut
            buffer = self._buffer
            line, self._buffer = buffer[:end], buffer[after:]
            # A CR that ends the buffer: its LF, if any, comes first in the next chunk.
            self._cr_ended = after == len(buffer) and buffer[end] == "\r"
            item = self._line(line)
            if item is not None:
                items.append(item)

    def _line(self, line: str) -> SseEvent | SseComment | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return SseComment(line[1:].removeprefix(" "))
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, kind = self._data, self._type
        self._data, self._type = [], ""
        if not data:
            return None
        return SseEvent(kind or "message", "\n".join(data), self.last_id)


def _line_end(buffer: str) -> tuple[int, int] | None:
    """(where the first line ends, where the next begins), or None while no line is whole."""
    cr, lf = buffer.find("\r"), buffer.find("\n")
    if lf != -1 and (cr == -1 or lf < cr):
        return lf, lf + 1
    if cr == -1:
        return None
    return cr, cr + (2 if buffer[cr + 1:cr + 2] == "\n" else 1)
