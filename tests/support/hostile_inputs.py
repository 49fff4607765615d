"""Hostile request input, class by class: JSON fragments to put where a value goes (as the bytes
a client would send), and text for URLs and headers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fragment:
    """A JSON value as raw bytes, and what the server must name: the field it stands in
    (`value`), the object holding it (`key`: the hostile part is a key), or no field (`body`)."""

    name: str
    raw: bytes
    names: str = "value"


def _deep(depth: int, opener: bytes = b"[", closer: bytes = b"]", leaf: bytes = b"1") -> bytes:
    return opener * depth + leaf + closer * depth


TEXT = [
    Fragment("lone high surrogate", b'"a\\ud800b"'),
    Fragment("lone low surrogate", b'"\\udfff"'),
    Fragment("surrogates reversed", b'"\\udc00\\ud800"'),
    Fragment("raw surrogate bytes", b'"a\xed\xa0\x80b"'),
    Fragment("byte 0xff", b'"a\xffb"'),
    Fragment("overlong NUL", b'"a\xc0\x80b"'),
    Fragment("truncated UTF-8", b'"a\xe2\x82"'),
    Fragment("NUL", b'"a\\u0000b"'),
    Fragment("escape sequence", b'"\\u001b[2J\\u001b]0;pwned\\u0007"'),
    Fragment("backspace", b'"rm -rf ~\\b\\b\\b"'),
    Fragment("raw DEL", b'"a\x7fb"'),
    Fragment("C1 CSI", b'"\\u009b2J"'),
    Fragment("raw C1 CSI", b'"a\xc2\x9bb"'),
]
NUMBERS = [
    Fragment("NaN", b"NaN"),
    Fragment("Infinity", b"Infinity"),
    Fragment("-Infinity", b"-Infinity"),
    Fragment("1e400", b"1e400"),
    Fragment("-1e99999", b"-1e99999"),
    Fragment("2**63", b"9223372036854775808"),
    Fragment("-10**30", b"-1" + b"0" * 30),
    Fragment("5000 digits", b"1" + b"0" * 5000),
]
KEYS = [
    Fragment("surrogate key", b'{"\\ud800": "x"}', "key"),
    Fragment("raw surrogate key", b'{"a\xed\xb0\x80": "x"}', "key"),
    Fragment("NUL key", b'{"a\\u0000": "x"}', "key"),
    Fragment("escape key", b'{"\\u001b[2J": "x"}', "key"),
    Fragment("line break key", b'{"a\\nb": "x"}', "key"),
]
NESTING = [
    Fragment("65 arrays", _deep(65), "body"),
    Fragment("65 objects", _deep(65, b'{"a": ', b"}"), "body"),
    Fragment("1,000 arrays", _deep(1000), "body"),
    Fragment("100,000 mixed", _deep(50_000, b'[{"a": ', b"}]"), "body"),
    Fragment("100,000 unclosed", b"[" * 100_000, "body"),
]
FRAGMENTS = TEXT + NUMBERS + KEYS + NESTING

# Text for a URL or a header: only what a client can encode (no lone surrogate: one sent
# percent-encoded is in tests/server/test_inputs.py's path test).
URL_TEXT = ["a\x00b", "\x1b[2J\x1b]0;pwned\x07", "rm -rf ~\b\b", "a\x7fb", "\x9b2J", "line\nbreak",
            "\u202efdp.exe", "\ufeffbom", "", " ", "..", "%ED%A0%80", "x" * 10_000]
