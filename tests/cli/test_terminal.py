"""Tests for promptsync.terminal (what the CLI and the watch lines escape) and for the terminal
decision of `get`, made by a real stdout: a pseudo-terminal, and a file."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptsync.terminal import escape_json, escape_line, escape_text
from tests.support.environment import command_env
from tests.support.hostile import BENIGN, HOSTILE, HOSTILE_IDS, dangerous

# Every assigned character class lives in these planes: the BMP, the SMP and tags (plane 14).
SWEEP = [chr(c) for r in (range(0, 0x20000), range(0xE0000, 0xE1000)) for c in r]


@pytest.mark.parametrize(("name", "text", "seen"), HOSTILE, ids=HOSTILE_IDS)
def test_each_class_is_shown_escaped_in_lines_blocks_and_json(
        name: str, text: str, seen: str) -> None:
    assert escape_line(text) == seen == escape_text(text)
    assert escape_line(seen) == seen  # escaped text is printable: twice is once
    document = escape_json(json.dumps({"m": [text]}, indent=2, ensure_ascii=False))
    assert dangerous(document) == [] and json.loads(document) == {"m": [text]}


def test_text_that_only_prints_is_left_alone() -> None:
    for escape in (escape_line, escape_text, escape_json):
        assert escape(BENIGN) == BENIGN
    assert escape_json(json.dumps(BENIGN, ensure_ascii=False)) == json.dumps(BENIGN,
                                                                             ensure_ascii=False)


def test_a_line_shows_its_line_ends_and_a_block_keeps_them() -> None:
    assert escape_line("one\ntwo\r\nthree") == "one\\ntwo\\r\\nthree"
    assert escape_text("one\ntwo\r\nthree\r") == "one\ntwo\r\nthree\\r"
    assert escape_text("over\r\r\nwrite\rx") == "over\\r\r\nwrite\\rx"
    assert escape_text("a\tb") == "a\tb" == escape_line("a\tb")


def test_every_character_is_kept_or_escaped_as_the_classes_say() -> None:
    line, block = escape_line("".join(SWEEP)), escape_text("".join(SWEEP))
    assert dangerous(line, lines=False) == [] and dangerous(block) == []
    kept = [c for c in SWEEP if escape_line(c) == c]
    assert kept == [c for c in SWEEP if not dangerous(c, lines=False)]
    # Surrogates apart: JSON reads a high one escaped before a low one as their pair.
    text = "".join(c for c in SWEEP if not "\ud800" <= c <= "\udfff")
    document = escape_json(json.dumps(text, ensure_ascii=False))
    assert dangerous(document) == [] and json.loads(document) == text


GET = """
import sys, httpx
from promptsync.cli import main
from promptsync.format.prompt import source_sha256

source = sys.argv[1]
def answer(request):
    return httpx.Response(200, json={"slug": "x", "version": 1, "source": source,
                                     "sha256": source_sha256(source)})
main(["--server", "http://ps.test", "--project", "demo", "--api-key", "psk_x", "get", "x"],
     transport=httpx.MockTransport(answer))
"""
SOURCE = "# \x1b]0;pwned\x07 \u202eexe\r\ntemplate: \"\\e[2J hi\"\r\n"


def test_get_escapes_on_a_real_terminal_and_writes_a_file_byte_for_byte(
        tmp_path: Path, isolated_env: Path) -> None:
    command = [sys.executable, "-c", GET, SOURCE]
    out = tmp_path / "out.yaml"
    with out.open("wb") as file:
        subprocess.run(command, stdout=file, cwd=tmp_path, check=True, timeout=60)
    assert out.read_bytes() == SOURCE.encode()
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(command, stdout=secondary, cwd=tmp_path)
    finally:
        os.close(secondary)
    try:
        shown = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not select.select([primary], [], [], deadline - time.monotonic())[0]:
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    assert b"\x1b" not in shown and b"\xe2\x80\xae" not in shown
    # The terminal turns each LF into CRLF; the file's own CRLF stays one line end.
    assert shown.replace(b"\r\r\n", b"\n").replace(b"\r\n", b"\n") == (
        b'# \\x1b]0;pwned\\x07 \\u202eexe\ntemplate: "\\e[2J hi"\n')


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    # `promptsync lint | head -1` printed "error: Broken pipe" once head had what it wanted.
    (tmp_path / "prompts").mkdir()
    (tmp_path / "promptsync.yaml").write_text("project: demo\n")
    (tmp_path / "prompts/bad.yaml").write_text("template: hi\nfoo: 1\n")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line: every write fails (EPIPE)
    try:
        lint = subprocess.run([sys.executable, "-m", "promptsync", "lint"], cwd=tmp_path,
                              env=command_env(tmp_path / "xdg"), stdout=write_end,
                              stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert lint.returncode == 1
    assert b"Broken pipe" not in lint.stderr and b"Traceback" not in lint.stderr
