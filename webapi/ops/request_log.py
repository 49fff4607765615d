"""One line per request on stderr (logger webapi.requests); JSON lines with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

LOGGER = "webapi.requests"
_string = json.encoder.encode_basestring_ascii
# Control characters (a path may carry %0A decoded, a header anything) shown escaped, so that a
# client can never write a line of its own into the log.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))} | {
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"', ord("\\"): "\\\\"}


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever sys.stderr is when a line is written (as logging's own
    last resort does): a test runner that swaps stderr never leaves it holding a closed one."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (see _text)
        return f"\\x{code - 0xDC00:02x}"
    # Beyond the controls, nothing that does not print (a bidi override, a line separator).
    return _ESCAPES.get(code) or (char if char.isprintable() else f"\\u{code:04x}")


def _clean(value: str) -> str:
    if value.isprintable() and '"' not in value and "\\" not in value:
        return value  # the usual case, checked in C
    return "".join(map(_escape, value))


def _text(value: str) -> str:
    """A WSGI string (the bytes as latin-1, PEP 3333) as the UTF-8 text the client sent; a
    byte that is not UTF-8 becomes a lone surrogate, which _clean shows as \\xNN."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a server that gave text already
        return value


class _Clock:
    """ISO 8601 UTC times to the millisecond; strftime once a second, not once a request."""

    second = -1
    prefix = ""

    def __call__(self, now: float) -> str:
        second = int(now)
        if second != self.second:
            self.second = second
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self.prefix}.{int((now - second) * 1000):03d}Z"


_timestamp = _Clock()


def _target(environ: dict[str, Any]) -> str:
    path = _text(environ.get("PATH_INFO", ""))
    query = environ.get("QUERY_STRING")
    return f"{path}?{_text(query)}" if query else path


def text_line(environ: dict[str, Any], status: str, seconds: float, now: float) -> str:
    """`<time> <client> "<method> <path?query>" <status> <ms>ms pid=<pid>`."""
    return (f'{_timestamp(now)} {environ.get("REMOTE_ADDR", "-")} '
            f'"{_clean(environ.get("REQUEST_METHOD", ""))} {_clean(_target(environ))}" '
            f'{status[:3]} {seconds * 1000:.2f}ms pid={os.getpid()}')


def json_line(environ: dict[str, Any], status: str, seconds: float, now: float) -> str:
    """The same fields as one JSON object; strings through json's own escaping (in C)."""
    query = environ.get("QUERY_STRING")
    remote = environ.get("REMOTE_ADDR")
    return (f'{{"time": "{_timestamp(now)}", '
            f'"client": {_string(remote) if remote else "null"}, '
            f'"method": {_string(environ.get("REQUEST_METHOD", ""))}, '
            f'"path": {_string(_text(environ.get("PATH_INFO", "")))}, '
            f'"query": {_string(_text(query)) if query else "null"}, '
            f'"status": {int(status[:3])}, '
            f'"duration_ms": {seconds * 1000:.2f}, "pid": {os.getpid()}}}')


LineFormat = Callable[[dict[str, Any], str, float, float], str]
FORMATS: dict[str, LineFormat] = {"text": text_line, "json": json_line}


class RequestLog:
    """Writes each finished request as one line through the webapi.requests logger."""

    def __init__(self, line: LineFormat) -> None:
        self.line = line
        self.logger = logging.getLogger(LOGGER)
        self.own: logging.Handler | None = None
        if not self.logger.handlers:  # a deployment's own logging config wins
            self.own = _Stderr()
            self.own.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(self.own)
            self.logger.propagate = False  # one line, not a second one from a root handler
        if self.logger.level == logging.NOTSET:
            self.logger.setLevel(logging.INFO)

    def __call__(self, environ: dict[str, Any], status: str, seconds: float) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        line = self.line(environ, status, seconds, time.time())
        handlers = logger.handlers
        if len(handlers) == 1 and handlers[0] is self.own and not logger.disabled:
            # What the handler would write, without the LogRecord and the locks around it:
            # a tenth of the cost, on every request (the fast fetch's included).
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()
        else:
            logger.info(line)


def request_log(log_format: str) -> RequestLog | None:
    """The request log of LOG_FORMAT (text, json), or None for off."""
    line = FORMATS.get(log_format)
    return RequestLog(line) if line is not None else None
