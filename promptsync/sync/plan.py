"""The pure sync plan: files + last synced state + server manifest -> one action per prompt.

Plain values in, a `Plan` out, no I/O: `classify` says where one prompt stands, `make_plan`
does it for every prompt, pairs a deleted prompt with a new file of the same bytes as a
rename, and validates what would be uploaded (`check_file`). The engine
(sync/engine.py) feeds it from the disk, the state and the API, and push/pull carry it out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
    DELETED = "deleted"  # the file is gone, the server still has it as synced: push archives it
    ARCHIVED = "archived"  # archived on the server, the file unchanged here: pull removes it
    RENAMED = "renamed"  # a new file with the bytes of a deleted one: push renames the prompt
    INVALID = "invalid"  # the file cannot be uploaded as it is
    IN_SYNC = "in sync"


OUT_OF_SYNC = frozenset(Status) - {Status.IN_SYNC}


@dataclass(frozen=True)
class Remote:
    """The server's latest version of one prompt, from the manifest."""

    version: int
    sha256: str
    archived: bool = False  # archived on the server: its versions kept, latest answers 410


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
    # RENAMED: the deleted prompt whose bytes the file holds, and the version last synced of it
    renamed_from: str | None = None
    renamed_from_version: int | None = None

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
    """The entry the file is really based on, undoing a pull interrupted before its rename;
    None for a prompt archived from here (no file is based on it any more)."""
    if entry is None or entry.archived:
        return None
    if entry.previous is None:
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
        if remote is None or remote.archived:
            return None  # gone on both sides
        if entry is None:
            return Status.BEHIND  # new on the server, or restored there: pull writes it
        if (remote.version, remote.sha256) == (entry.version, entry.sha256):
            return Status.DELETED
        return Status.CONFLICT  # deleted here while the server moved on
    if remote is None:
        return Status.NEW  # also when the state remembers it: the server lost or never had it
    if remote.archived:
        if entry is None:
            # A file this checkout never synced (a deletion reverted, a prompt made again):
            # pushing it restores the prompt.
            return Status.NEW
        return Status.ARCHIVED if local.sha256 == entry.sha256 else Status.CONFLICT
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
        base = effective.version if effective is not None else 0
        prompt = remote.get(slug)
        if effective is None and prompt is not None and prompt.archived:
            base = prompt.version  # pushing it restores the archived prompt at its next version
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
            base_version=base,
            remote=prompt,
            problems=problems,
            relpath=local.relpath if local else (entry.path if entry else None),
            path=local.path if local else None,
        ))
    return Plan(_pair_renames(actions))


def pair_renames(gone: Mapping[str, str], born: Mapping[str, str]) -> dict[str, str]:
    """new slug -> old slug, for each deleted prompt (``gone``: slug -> synced sha256) whose
    bytes exactly one new file (``born``: slug -> sha256) holds, and no other deleted one.

    Only one to one: when several deleted prompts or several new files share the bytes, which
    went where is a guess, so they stay an archive and a create.
    """
    olds: dict[str, list[str]] = {}
    news: dict[str, list[str]] = {}
    for slug, sha in gone.items():
        olds.setdefault(sha, []).append(slug)
    for slug, sha in born.items():
        news.setdefault(sha, []).append(slug)
    return {news[sha][0]: old[0] for sha, old in olds.items()
            if len(old) == 1 and len(news.get(sha, ())) == 1 and news[sha][0] != old[0]}


def _pair_renames(actions: list[Action]) -> list[Action]:
    """A prompt deleted while in sync (DELETED) and a file whose slug the server never had
    (NEW, no remote) holding its bytes become one RENAMED action."""
    deleted = {a.slug: a for a in actions if a.status == Status.DELETED and a.remote}
    gone = {slug: a.remote.sha256 for slug, a in deleted.items() if a.remote is not None}
    born = {a.slug: a.local.sha256 for a in actions
            if a.status == Status.NEW and a.remote is None and a.local is not None}
    pairs = pair_renames(gone, born)
    if not pairs:
        return actions
    absorbed = set(pairs.values())
    return [replace(a, status=Status.RENAMED, renamed_from=pairs[a.slug],
                    renamed_from_version=deleted[pairs[a.slug]].base_version)
            if a.slug in pairs and a.status == Status.NEW else a
            for a in actions if not (a.slug in absorbed and a.status == Status.DELETED)]


def _bad_action(bad: BadFile) -> Action:
    return Action(slug=bad.slug or bad.relpath, status=Status.INVALID, problems=bad.problems,
                  relpath=bad.relpath, path=bad.path)
