"""A hostile server: the real app, with a marker in its answers replaced by text that would
take over a terminal, or with one prompt's answers broken; and that text, class by class."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable

import httpx
from flask import Flask

# Valid in a slug, a label, an email and a template, so the real app stores it anywhere; the
# transport swaps it for the hostile text on the way back, as a malicious server would send it.
MARKER = "zzhostilezz"

# (what it is, the hostile text, how a reader sees it)
HOSTILE = [
    ("csi", "\x1b[2J\x1b[H\x1b[1;32mok\x1b[0m", "\\x1b[2J\\x1b[H\\x1b[1;32mok\\x1b[0m"),
    ("osc title", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    ("osc 8 link", "\x1b]8;;https://evil.example/\x1b\\docs\x1b]8;;\x1b\\",
     "\\x1b]8;;https://evil.example/\\x1b\\docs\\x1b]8;;\\x1b\\"),
    ("bare cr", "deleting\r[ OK ] passed", "deleting\\r[ OK ] passed"),
    ("backspaces", "rm -rf ~\x08\x08\x08ls", "rm -rf ~\\x08\\x08\\x08ls"),
    ("c1", "\x9b2J\x9d0;pwned\x9c\x85", "\\x9b2J\\x9d0;pwned\\x9c\\x85"),
    ("c0 and del", "a\x00b\x05c\x7fd\x0b\x0c\x1c", "a\\x00b\\x05c\\x7fd\\x0b\\x0c\\x1c"),
    ("bidi", "inv\u202efdp.exe\u202c\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u202a\u202b\u202d",
     "inv\\u202efdp.exe\\u202c\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c\\u202a"
     "\\u202b\\u202d"),
    ("zero width", "pay\u200bpal\u2060\ufeff\u00ad", "pay\\u200bpal\\u2060\\ufeff\\xad"),
    ("line separators", "one\u2028two\u2029three", "one\\u2028two\\u2029three"),
    ("tag characters", "hi\U000e0049\U000e007f", "hi\\U000e0049\\U000e007f"),
    ("lone surrogate", "x\ud800y", "x\\ud800y"),
]
HOSTILE_IDS = [name for name, _, _ in HOSTILE]
# Not controls: kept as they are (ZWJ and ZWNJ join emoji and write Persian, NBSP is a space).
BENIGN = ("h\u00e9llo \u65e5\u672c \U0001f600 \U0001f468\u200d\U0001f469 "
          "\u0645\u06cc\u200c\u062e \u00a0\ttab \u05e9\u05dc\u05d5\u05dd")


def dangerous(text: str, *, lines: bool = True) -> list[str]:
    """The characters of ``text`` a terminal would act on or hide (newlines kept if ``lines``)."""
    found = []
    for index, char in enumerate(text):
        if char == "\t" or (lines and char == "\n"):
            continue
        if lines and char == "\r" and text[index + 1:index + 2] == "\n":
            continue  # CRLF: a line end
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Zl", "Zp") or (
                category == "Cf" and char not in "\u200c\u200d"):
            found.append(char)
    return found


def answer(status: int, body: bytes, content_type: str = "application/json") -> httpx.Response:
    """An answer as a server would send it."""
    return httpx.Response(status, headers={"Content-Type": content_type}, content=body)


class Hostile(httpx.BaseTransport):
    """The app over WSGI; MARKER in an answer becomes ``text``, and ``break_when`` a request
    answers what ``broken`` returns instead."""

    def __init__(self, app: Flask, text: str = MARKER) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.text = text
        self.break_when: Callable[[httpx.Request], bool] = lambda request: False
        self.broken: Callable[[httpx.Request], httpx.Response] = lambda request: answer(500, b"")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.break_when(request):
            return self.broken(request)
        response = self.inner.handle_request(request)
        body = response.read()
        if MARKER.encode() not in body:
            return response
        # JSON-escaped (\u001b, \ud800): still valid JSON, decoded into the hostile string.
        swapped = body.replace(MARKER.encode(), json.dumps(self.text)[1:-1].encode())
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=swapped)
