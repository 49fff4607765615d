"""The SDK's Server-Sent Events parser against a corpus of streams, fed whole and byte by byte."""

from __future__ import annotations

import pytest

from promptsync.client.sse import SseComment, SseEvent, SseParser

E = SseEvent
C = SseComment

CORPUS: list[tuple[str, bytes, list[SseEvent | SseComment]]] = [
    ("the server's frames",
     b'retry: 1000\n: connected\n\nid: 7\nevent: label.moved\ndata: {"id":7}\n\n',
     [C("connected"), E("label.moved", '{"id":7}', "7")]),
    ("CRLF line ends", b"id: 1\r\nevent: a\r\ndata: x\r\n\r\n", [E("a", "x", "1")]),
    ("CR line ends", b"id: 2\revent: b\rdata: y\r\r", [E("b", "y", "2")]),
    ("multi-line data joined by LF", b"data: one\ndata:two\ndata:  three\n\n",
     [E("message", "one\ntwo\n three", "")]),
    ("comments and keep-alives", b": keep-alive\n\n:\n\n:x:y\n\n",
     [C("keep-alive"), C(""), C("x:y")]),
    ("the id carries over to later events", b"id: 5\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
     [E("message", "a", "5"), E("message", "b", "5"), E("message", "c", "")]),
    ("an id with a NUL is ignored", b"id: 3\ndata: a\n\nid: 4\x00\ndata: b\n\n",
     [E("message", "a", "3"), E("message", "b", "3")]),
    ("no data: nothing dispatched, the type resets", b"event: lonely\n\ndata: d\n\n",
     [E("message", "d", "")]),
    ("no trailing blank line: the last event is dropped", b"data: kept\n\ndata: cut",
     [E("message", "kept", "")]),
    ("no trailing blank line after a full line", b"data: kept\n\nid: 9\ndata: cut\n",
     [E("message", "kept", "")]),
    ("unknown fields and a field without a colon", b"foo: bar\ndata\n\n", [E("message", "", "")]),
    ("one leading BOM is skipped", b"\xef\xbb\xbfdata: a\n\n", [E("message", "a", "")]),
    ("UTF-8 split anywhere", "data: café ✓\n\n".encode(), [E("message", "café ✓", "")]),
]


@pytest.mark.parametrize(("name", "stream", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_corpus(name: str, stream: bytes, expected: list[object], split: str) -> None:
    parser = SseParser()
    chunks = [stream] if split == "whole" else [stream[i:i + 1] for i in range(len(stream))]
    got = [item for chunk in chunks for item in parser.feed(chunk)]
    assert got == expected, name


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    parser = SseParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\n\r\n") == [E("message", "a", "")]


def test_retry_sets_the_delay_only_when_digits() -> None:
    parser = SseParser()
    parser.feed(b"retry: 2500\n\n")
    assert parser.retry_ms == 2500
    parser.feed(b"retry: 1.5\nretry: soon\n\n")
    assert parser.retry_ms == 2500
