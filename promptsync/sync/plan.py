"""The pure sync plan: files + last synced state + server manifest -> one action per prompt.

Plain values in, a `Plan` out, no I/O: `classify` says where one prompt stands, `make_plan`
does it for every prompt and validates what would be uploaded (`check_file`). The engine
(sync/engine.py) feeds it from the disk, the state and the API, and push/pull carry it out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from promptsync.errors import Problem, PromptFileError
from promptsync.format.prompt import parse_prompt
from promptsync.sync.scan import BadFile, LocalFile, Scan, Selection
from promptsync.sync.state import Entry


class Status(StrEnum):
    """Where one prompt stands between its file and the server."""

    NEW = "new"  # a file the server does not have
    MODIFIED = "modified"  # the file changed, the server did not
    BEHIND = "behind"  # the server is newer and the file is unchanged (or absent)
    CONFLICT = "conflict"  # both changed since they were last in sync
    DELETED = "deleted"  # the file is gone, the server still has it
    INVALID = "invalid"  # the file cannot be uploaded as it is
    IN_SYNC = "in sync"


OUT_OF_SYNC = frozenset(Status) - {Status.IN_SYNC}


@dataclass(frozen=True)
class Remote:
    """The server's latest version of one prompt, from the manifest."""

    version: int
    sha256: str


@dataclass(frozen=True)
class Action:
    """One prompt's status and what push or pull would do with it."""

    slug: str
    status: Status
    local: LocalFile | None = None
    base_version: int = 0  # the version the file is based on (0: never in sync)
    remote: Remote | None = None
    problems: tuple[Problem, ...] = ()
    relpath: str | None = None  # the file, relative to the prompts dir
    path: Path | None = None  # the file, absolute

    @property
    def remote_version(self) -> int | None:
        """The server's latest version, None when the server does not have it."""
        return self.remote.version if self.remote is not None else None


@dataclass
class Plan:
    """Every prompt's action, sorted by slug (bad files by path)."""

    actions: list[Action] = field(default_factory=list)

    def with_status(self, *statuses: Status) -> list[Action]:
        """The actions whose status is one of ``statuses``."""
        return [a for a in self.actions if a.status in statuses]

    def counts(self) -> dict[Status, int]:
        """How many prompts are in each status."""
        counts = dict.fromkeys(Status, 0)
        for action in self.actions:
            counts[action.status] += 1
        return counts

    @property
    def out_of_sync(self) -> list[Action]:
        """Every action that is not in sync."""
        return [a for a in self.actions if a.status in OUT_OF_SYNC]


def check_file(local: LocalFile) -> tuple[Problem, ...]:
    """Every validation problem of a file; empty when it may be uploaded."""
    try:
        parse_prompt(local.data, local.relpath)
    except PromptFileError as exc:
        return tuple(exc.problems)
    return ()


def _effective(entry: Entry | None, local_sha: str | None) -> Entry | None:
    """The entry the file is really based on, undoing a pull interrupted before its rename."""
    if entry is None or entry.previous is None:
        return entry
    if local_sha == entry.sha256:
        return entry  # the pulled file is in place
    version, sha = entry.previous
    # The rename never happened (or the file changed since): judge against what was before.
    return None if version == 0 else Entry(version, sha, entry.path)


def classify(
    slug: str, local: LocalFile | None, entry: Entry | None, remote: Remote | None
) -> Status | None:
    """The status of one slug; None when it exists nowhere (a stale state entry)."""
    entry = _effective(entry, local.sha256 if local is not None else None)
    if local is None:
        if remote is None:
            return None
        return Status.BEHIND if entry is None else Status.DELETED
    if remote is None:
        return Status.NEW  # also when the state remembers it: the server lost or never had it
    if local.sha256 == remote.sha256:
        return Status.IN_SYNC
    if entry is None:
        return Status.CONFLICT  # both sides have it and they were never known to agree
    local_changed = local.sha256 != entry.sha256
    server_changed = remote.version != entry.version or remote.sha256 != entry.sha256
    if local_changed and server_changed:
        return Status.CONFLICT
    return Status.MODIFIED if local_changed else Status.BEHIND


def make_plan(
    scanned: Scan,
    entries: Mapping[str, Entry],
    remote: Mapping[str, Remote],
    *,
    selection: Selection | None = None,
    check: Callable[[LocalFile], tuple[Problem, ...]] = check_file,
) -> Plan:
    """Compare files, the last synced state and the server; validate what would be uploaded."""
    selection = selection or Selection()
    bad_slugs = {b.slug for b in scanned.bad if b.slug is not None}
    slugs = (set(scanned.files) | set(remote) | set(entries)) - bad_slugs
    actions = [_bad_action(b) for b in scanned.bad]
    for slug in sorted(s for s in slugs if s in selection):
        local = scanned.files.get(slug)
        entry = entries.get(slug)
        status = classify(slug, local, entry, remote.get(slug))
        if status is None:
            continue
        effective = _effective(entry, local.sha256 if local is not None else None)
        problems: tuple[Problem, ...] = ()
        if local is not None and status in (Status.NEW, Status.MODIFIED, Status.CONFLICT):
            # Only files that would be uploaded are parsed: status on unchanged files only hashes.
            problems = check(local)
            if problems:
                status = Status.INVALID
        actions.append(Action(
            slug=slug,
            status=status,
            local=local,
            base_version=effective.version if effective is not None else 0,
            remote=remote.get(slug),
            problems=problems,
            relpath=local.relpath if local else (entry.path if entry else None),
            path=local.path if local else None,
        ))
    return Plan(actions)


def _bad_action(bad: BadFile) -> Action:
    return Action(slug=bad.slug or bad.relpath, status=Status.INVALID, problems=bad.problems,
                  relpath=bad.relpath, path=bad.path)
