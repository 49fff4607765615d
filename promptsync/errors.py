"""The one exception hierarchy of the promptsync library; the CLI maps it to exit codes."""

from __future__ import annotations

from typing import Any


class PromptSyncError(Exception):
    """Base of every error the library raises on purpose."""


class ConfigError(PromptSyncError):
    """promptsync.yaml, the environment or the credentials are missing or wrong."""


class PromptFileError(PromptSyncError):
    """A prompt file or source failed validation; carries every problem found."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems
        super().__init__("; ".join(f"{path}:{p}" for p in problems))


class Problem:
    """One validation problem with an optional 1-based line and column."""

    __slots__ = ("message", "line", "column")

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f"{self.line}:" if self.column is None else f"{self.line}:{self.column}:"
        return f"{where} {self.message}" if where else f" {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"message": self.message, "line": self.line, "column": self.column}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (
            (self.message, self.line, self.column) == (other.message, other.line, other.column)
        )

    def __repr__(self) -> str:
        return f"Problem({self.message!r}, line={self.line}, column={self.column})"


class RenderError(PromptSyncError):
    """Variables passed to render are missing, unknown, or break their declared type or enum;
    one error names every problem."""

    def __init__(self, missing: list[str], unknown: list[str],
                 invalid: dict[str, str] | None = None, unset: list[str] | None = None):
        self.missing = missing
        self.unknown = unknown
        self.invalid = dict(invalid or {})  # name -> what is wrong ("must be an integer, ...")
        self.unset = list(unset or [])
        parts = []
        if missing:
            parts.append("missing variables: " + ", ".join(missing))
        if unknown:
            # A typo is guessed among the variables not given: the missing ones first, then
            # those a default or optional filled (nmae for name, which has a default).
            guesses = missing + [n for n in self.unset if n not in missing]
            parts.append("unknown variables: " + ", ".join(_guess(n, guesses) for n in unknown))
        for name, problem in sorted(self.invalid.items()):
            parts.append(f"variable '{name}' {problem}")
        super().__init__("; ".join(parts))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.missing, self.unknown, self.invalid, self.unset))


def _guess(name: str, candidates: list[str]) -> str:
    """``name``, with the variable not given it was probably meant to be (a typo in -v)."""
    import difflib  # only when an error is built: every command imports this module

    close = difflib.get_close_matches(name, candidates, n=1)
    return f"{name} (did you mean '{close[0]}'?)" if close else name


class OutputInvalid(PromptSyncError):
    """A model's answer does not fit the prompt's output_schema; names every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the answer does not fit the output_schema: " + "; ".join(problems))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


class ApiError(PromptSyncError):
    """The server answered with an error; carries the status, the code and the whole body."""

    attempts = 1  # times the request was sent: the client repeats some after a 502/503/504

    def __init__(
        self, status: int, code: str, detail: str, body: dict[str, Any] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        # Extra fields of the error body: latest_version on 409, problems on 422, ...
        self.body: dict[str, Any] = body if body is not None else {}
        super().__init__(f"{detail} ({status} {code})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.code, self.detail, self.body))


class PromptArchived(ApiError):
    """The prompt was archived (410): its latest version and labels are gone; a version by
    number still answers."""


class ServerUnreachable(PromptSyncError):
    """The server could not be reached (connection refused, DNS, timeout)."""


class BundleError(ConfigError):
    """An export bundle is missing, unreadable, of an unknown format or fails its hashes."""
