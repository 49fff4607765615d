"""CLI errors: every library error becomes one readable line and an exit code, here only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import IO, Any

import click

from promptsync.cli.context import Obj, display
from promptsync.cli.output import echo_err
from promptsync.errors import ApiError, PromptSyncError, ServerUnreachable

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
_UNREACHABLE_RE = re.compile(r"^cannot reach (\S+): (.+)$")


class Failure(click.ClickException):
    """A one-line error (``error: …`` on stderr) and exit 1; ``details`` (the end of a log, a
    traceback) follow as lines of their own."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``error: message`` (no usage text, no "Error:" prefix), escaped like every line."""
        echo_err(f"error: {self.message}")
        # Each detail escaped as every line is: a line break is only ever one we chose.
        for line in self.details:
            echo_err(f"  {line}")


def refused_line(slug: str, what: str, detail: str) -> str:
    """``refused: slug: what: detail``, the one line for a write the server refused on purpose
    (a protected label, an include it would break), as push and label both say it."""
    return f"refused: {slug}: {what}: {detail.rstrip('.')}"


class Refused(Failure):
    """A write the server refused on purpose: its refused_line() as is, and exit 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the line (it says ``refused:`` itself)."""
        echo_err(self.message)


class Interrupted(click.ClickException):
    """Ctrl-C: exit 130 like a shell does."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``interrupted``."""
        echo_err()
        echo_err("interrupted")


def _project(obj: Obj | None) -> str | None:
    """The project the command acted on, when it is known without raising."""
    if obj is None:
        return None
    try:
        return obj.settings().project
    except PromptSyncError:
        return None


def _api_message(exc: ApiError, obj: Obj | None) -> str:
    """The one line for an error answer, saying what to do about it."""
    detail = exc.detail.rstrip(".")
    if exc.status == 401:
        return (
            f"the server refused the API key ({detail}): the key is wrong or revoked; "
            "run promptsync login to get a new one, or set PROMPTSYNC_API_KEY"
        )
    if exc.status == 403:
        if "request" in exc.body:  # a promotion request of one's own: no key would do
            return detail
        if detail.startswith("This needs the"):
            project = _project(obj)
            whose = f"an admin of '{project}'" if project else "an admin of the project"
            return (f"{detail}: ask {whose} for that role if you lack it, then run "
                    "promptsync login again (or use a key with that role)")
        return f"{detail}: use a key with enough rights for this project (promptsync login)"
    if exc.status == 404 and detail.startswith("No project"):
        return f"{detail} on the server: check 'project' in promptsync.yaml or --project"
    if exc.code == "contract_break":
        return detail.replace("Pass allow_breaking", "Pass --allow-breaking")
    if exc.status == 429:
        wait = exc.body.get("retry_after")
        when = f"in {wait} s" if wait else "later"
        if detail.endswith("; try again later"):  # the login lockout's own words
            return f"{detail.removesuffix('later')}{when}"
        return f"{detail}: try again {when}"
    if exc.status >= 500:
        tries = f" {exc.attempts} times" if exc.attempts > 1 else ""
        return f"the server failed ({exc.status} {exc.code}){tries}: {detail}; try again later"
    return detail


def describe(exc: PromptSyncError, obj: Obj | None = None) -> str:
    """Turn any library error into one readable line (without the ``error:`` prefix)."""
    if isinstance(exc, ServerUnreachable):
        match = _UNREACHABLE_RE.match(str(exc))
        if match:
            return f"cannot reach {match[1]} ({match[2]}): is the server running?"
        return f"{exc}: is the server running?"
    if isinstance(exc, ApiError):
        return _api_message(exc, obj)
    return str(exc)


def describe_os_error(exc: OSError) -> str:
    """``path: reason`` for a failed file operation (the destination of a rename)."""
    where = exc.filename2 if exc.filename2 is not None else exc.filename
    reason = exc.strerror or str(exc)
    return f"{display(str(where))}: {reason}" if where is not None else reason
