"""What `watch` says about a bad file, for real: a real observer, the real app on a loopback
port, saves made as editors make them (write a temp file, rename it over), and the command as a
subprocess. A bad file is named as `lint` names it (``prompts/a.yaml:2:26: message``), whether
the parser, the schema or the server (422) refused it, and its fix is news: "valid again"."""

from __future__ import annotations

import signal

from tests.support.command import run_command
from tests.support.editors import os_replace
from tests.support.environment import command_env
from tests.support.live import prompt_source
from tests.support.waiting import wait_until
from tests.support.watch_stack import Stack, Watch

# Two problems lint reports with their line and column.
TWO_PROBLEMS = ("variables:\n  name: {required: true, tpe: string}\ntemplate: |\n  Hi {{ name }}\n"
                "bogus: 1\n")
# Valid for the parser; only the server, which resolves includes, refuses it (422).
MISSING_INCLUDE = prompt_source("Hi {{ name }} {{> nowhere/here }}")
FILE = "prompts/a.yaml"


def _lint(stack: Stack) -> list[str]:
    """What `promptsync lint` prints for a.yaml, run where the user runs watch."""
    result = run_command(stack.root, command_env(stack.root / ".xdg"), "lint", FILE)
    assert result.returncode == 1, result.stderr
    return result.stdout.splitlines()


def _about_the_file(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(f"{FILE}:")]


def _said(stack: Stack, *expected: str) -> None:
    """Wait until the lines since the start say ``expected`` in this order, one after another."""
    def found() -> bool:
        lines = stack.lines
        return any(lines[i:i + len(expected)] == list(expected) for i in range(len(lines)))

    wait_until(found, 10, lambda: f"{list(expected)} in {stack.lines}")


def test_an_invalid_save_is_reported_line_for_line_as_lint_reports_it(stack: Stack) -> None:
    stack.watch()
    os_replace(stack.path, TWO_PROBLEMS)
    expected = _lint(stack)
    assert expected[0].startswith(f"{FILE}:2:26: ") and len(expected) == 2
    _said(stack, *expected)
    assert not [line for line in stack.lines if line.startswith("a:")
                and "invalid" in line]  # never by its slug


def test_a_save_the_server_refuses_is_named_by_its_path(stack: Stack) -> None:
    first = stack.path.read_text()
    stack.watch()
    os_replace(stack.path, MISSING_INCLUDE)
    wait_until(lambda: _about_the_file(stack.lines), 10, lambda: f"the 422 said: {stack.lines}")
    said = _about_the_file(stack.lines)
    # The server's problem has no line: `path: message`, as lint says it when it has none.
    assert len(said) == 1 and said[0].startswith(f"{FILE}: ") and "nowhere/here" in said[0]
    assert not [line for line in stack.lines if line.startswith("a: invalid")]
    assert stack.sources() == [first]


def test_a_fix_back_to_the_servers_bytes_is_said_valid_again(stack: Stack) -> None:
    first = stack.path.read_text()
    stack.watch()
    os_replace(stack.path, "template: [unclosed\n")
    wait_until(lambda: _about_the_file(stack.lines), 10, "the report")
    os_replace(stack.path, first)  # undone in the editor: the bytes v1 holds
    _said(stack, f"{FILE}: valid again", "a: unchanged (same as v1 on the server)")
    # The same after the server refused a save: its fix is news too.
    os_replace(stack.path, MISSING_INCLUDE)
    wait_until(lambda: len(_about_the_file(stack.lines)) == 3, 10, lambda: f"{stack.lines}")
    os_replace(stack.path, first)
    wait_until(lambda: stack.lines.count(f"{FILE}: valid again") == 2, 10,
               lambda: f"valid again twice: {stack.lines}")
    assert stack.sources() == [first]


def test_a_fix_with_new_bytes_is_said_valid_again_then_pushed(stack: Stack) -> None:
    stack.watch()
    os_replace(stack.path, TWO_PROBLEMS)
    wait_until(lambda: _about_the_file(stack.lines), 10, "the report")
    os_replace(stack.path, prompt_source("Hi {{ name }}."))
    _said(stack, f"{FILE}: valid again", "a: pushed v2")


def test_the_command_names_a_bad_file_as_lint_does_and_ctrl_c_ends_with_one_line(
    stack: Stack,
) -> None:
    watch = Watch(stack.root, stack.account.keys["editor"])
    try:
        os_replace(stack.path, TWO_PROBLEMS)
        expected = _lint(stack)
        wait_until(lambda: _about_the_file(watch.lines) == expected, 10,
                   lambda: f"{expected} in {watch.lines}")
        assert watch.end(signal.SIGINT) == 130
    finally:
        watch.kill()
    assert [line for line in watch.lines if line][-1] == "stopped"
    assert "interrupted" not in watch.lines
