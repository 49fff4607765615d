"""Everything the CLI writes goes through here: what a server or a file sent is shown escaped.

Lines (listings, messages, errors) always escape control, bidi and invisible characters
(promptsync/terminal.py); JSON escapes them as ``\\uXXXX``, which is the same JSON; content (a
source, a rendered text, a diff) is escaped on a terminal and written exactly into a pipe or a
file, where a program, not a person, reads it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from promptsync.cli.context import Obj
from promptsync.terminal import escape_json, escape_line, escape_text

if TYPE_CHECKING:
    from promptsync.client.retry import Retrying


def echo(line: str = "", *, err: bool = False) -> None:
    """One line (a listing row, a message): control, bidi and invisible characters escaped."""
    click.echo(escape_line(line), err=err)


def echo_err(line: str = "") -> None:
    """A message for the user (stderr), escaped like every line."""
    echo(line, err=True)


def echo_retry(notice: Retrying) -> None:
    """Tell the user a request failed for now and is about to be sent again."""
    echo_err(f"warning: {notice.method} {notice.path}: {notice.reason}; retrying in "
             f"{notice.delay:g} s (attempt {notice.attempt} of {notice.attempts})")


def json_text(data: Any, indent: int = 2) -> str:
    """``data`` as JSON with unsafe characters as ``\\uXXXX``: lossless, safe on a terminal."""
    return escape_json(json.dumps(data, indent=indent, ensure_ascii=False))


def echo_json(data: Any) -> None:
    """JSON on stdout, safe on a terminal and exact for a program."""
    click.echo(json_text(data))


def echo_content(obj: Obj, text: str, *, newline: bool = False) -> None:
    """A source, a rendered text or a diff: escaped on a terminal, exact into a pipe or file."""
    if obj.is_terminal():
        click.echo(escape_text(text), nl=newline)
        return
    # Bytes, not text: click writes them to the binary stream, no newline added or translated.
    # A lone surrogate (from JSON's \ud800) has no UTF-8 form: it is written escaped.
    click.echo(text.encode("utf-8", "backslashreplace") + b"\n" * newline, nl=False)
