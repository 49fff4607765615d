"""What `watch` tells the user: one line per event, and never the same news twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

from promptsync.errors import Problem
from promptsync.protocol import PushOutcome
from promptsync.sync.advice import Disagreement, advice
from promptsync.sync.lifecycle import PROTECTED_HINT
from promptsync.sync.plan import Action
from promptsync.sync.pull import PullOutcome, PullReport
from promptsync.terminal import escape_line
from promptsync.watch.outbox import FlushReport, Sent

RESOLVE_HINT = advice(Disagreement.BOTH_CHANGED)
DELETED_HINT = advice(Disagreement.DELETED_HERE)
UNCHANGED = "{slug}: unchanged (same as v{version} on the server)"


def plural(count: int, word: str) -> str:
    """``1 change``, ``3 changes``."""
    return f"{count} {word}{'s' * (count != 1)}"


class EventLog:
    """Lines for the user; bad files, deletions and conflicts said once until they change."""

    def __init__(self, log: Callable[[str], None],
                 name: Callable[[str], str] = lambda relpath: relpath) -> None:
        self.log = log
        self.name = name  # a file's path in the prompts dir -> the path the user is shown
        self._lock = threading.Lock()  # the watcher's thread and the sync thread both report
        self._invalid: dict[str, str] = {}  # relpath -> what was last said about it
        self._broken: set[str] = set()  # relpaths said invalid and not yet said valid again
        self._fixing: dict[str, str] = {}  # relpath -> hash of its queued fix
        self._deleted: set[str] = set()
        self._refusals: dict[str, str] = {}  # slug -> the archive/rename refusal last said
        # slug -> (server version, local hash) said: the same pair again is no news, and a
        # file in conflict is not sent again until it is saved with other bytes.
        self._conflicts: dict[str, tuple[int | None, str]] = {}
        # relpath -> (hash, problems) of the bytes the server refused on their own (a verdict
        # no server state changes): not sent again until the file holds other bytes.
        self._refused: dict[str, tuple[str, tuple[Problem, ...]]] = {}

    def __call__(self, line: str) -> None:
        # Slugs and details come from the server and from files: never let one move the
        # cursor, set the title or fake a line.
        self.log(escape_line(line))

    def invalid(self, relpath: str, problems: tuple[Problem, ...], key: str = "") -> None:
        """Every problem as `lint` says it, ``path:line:col: message``; once per file content
        (``key``) and problems."""
        name = self.name(relpath)
        # Problem's text is "line:col: message" (or " message"), as lint's lines have it.
        lines = [f"{name}:{problem}" for problem in problems] or [f"{name}: invalid prompt"]
        with self._lock:
            self._broken.add(relpath)
            self._fixing.pop(relpath, None)  # a queued fix is no longer the file's news
            if self._invalid.get(relpath) == key + "\n".join(lines):
                return
            self._invalid[relpath] = key + "\n".join(lines)
        for line in lines:
            self(line)

    def queued(self, slug: str, relpath: str, sha256: str) -> None:
        """A save is queued: its file's next problem is news, and if it was invalid, the
        server's acceptance of this save will say it is valid again."""
        with self._lock:
            self._invalid.pop(relpath, None)
            if relpath in self._broken:
                self._fixing[relpath] = sha256
        self.forget(slug)

    def same_as_synced(self, slug: str, relpath: str, version: int | None, sha256: str
                       ) -> None:
        """The file holds the bytes of its newest version (``version`` on the server, None
        while that save is queued): a touch, a save without change, our own pull, or an
        invalid file put back as it was, which is news."""
        if version is None:
            self.queued(slug, relpath, sha256)
            return
        with self._lock:
            self._invalid.pop(relpath, None)
            fixed = relpath in self._broken
            self._broken.discard(relpath)
            self._fixing.pop(relpath, None)
        self.forget(slug)
        if fixed:
            self(f"{self.name(relpath)}: valid again")
            self(UNCHANGED.format(slug=slug, version=version))

    def _valid_again(self, sent: Sent) -> bool:
        """Say a file is valid again when the server took its queued fix."""
        with self._lock:
            if self._fixing.get(sent.path) != sent.sha256:
                return False
            del self._fixing[sent.path]
            self._broken.discard(sent.path)
        self(f"{self.name(sent.path)}: valid again")
        return True

    def deleted(self, slug: str, remote: int | None = None) -> None:
        """A file deleted while the server moved on: not archived; once until it changes."""
        with self._lock:
            if slug in self._deleted:
                return
            self._deleted.add(slug)
        self(f"{slug}: deleted here while the server moved on to v{remote}: not archived "
             f"({DELETED_HINT})")

    def lifecycle_refused(self, sent: Sent) -> None:
        """The server refused an archive or a rename: why, and what to do; once per reason."""
        key = f"{sent.code}:{sent.latest_version}"
        with self._lock:
            if self._refusals.get(sent.slug) == key:
                return
            self._refusals[sent.slug] = key
        if sent.code == "protected_label":
            hint = PROTECTED_HINT
        elif sent.code == "conflict" and sent.archive:
            hint = DELETED_HINT
        else:
            hint = "promptsync status shows where it stands"
        what = (f"not renamed from {sent.renamed_from}, pushed as a new prompt"
                if sent.renamed_from else "not archived")
        self(f"{sent.slug}: {what}: {sent.detail.rstrip('.')} ({hint})")

    def conflict(self, slug: str, remote: int | None, sha256: str, *,
                 archived: bool = False) -> None:
        """Both sides changed (or the server archived it): said once per server version and
        file content."""
        with self._lock:
            if self._conflicts.get(slug) == (remote, sha256):
                return
            self._conflicts[slug] = (remote, sha256)
        if archived:
            self(f"{slug}: conflict: changed here, archived on the server; neither side "
                 f"touched ({advice(Disagreement.ARCHIVED_THERE)})")
            return
        self(f"{slug}: conflict: changed here and on the server (v{remote}); neither side "
                 f"touched ({RESOLVE_HINT})")

    def refused(self, slug: str, latest: int | None, base: int | None, sha256: str,
                dropped: int) -> None:
        """The server refused a save based on an older version (409)."""
        with self._lock:
            self._conflicts[slug] = (latest, sha256)
        also = f"; {plural(dropped, 'later save')} dropped" if dropped else ""
        self(f"{slug}: conflict: the server is at v{latest}, this save is based on "
                 f"v{base}; not pushed{also} ({RESOLVE_HINT})")

    def refused_bytes(self, relpath: str, sha256: str) -> tuple[Problem, ...] | None:
        """The problems the server found in exactly these bytes of the file; None for other
        bytes, which end what was remembered."""
        with self._lock:
            known = self._refused.get(relpath)
            if known is not None and known[0] == sha256:
                return known[1]
            self._refused.pop(relpath, None)
        return None

    def in_conflict(self, slug: str, sha256: str) -> bool:
        """Whether this content of the file was already reported in conflict."""
        with self._lock:
            known = self._conflicts.get(slug)
        return known is not None and known[1] == sha256

    def conflict_of(self, action: Action) -> None:
        """Say once that both sides changed a prompt (or one deleted it): neither is touched."""
        if action.local is None:
            self.deleted(action.slug, action.remote_version)
        else:
            self.conflict(action.slug, action.remote_version, action.local.sha256,
                          archived=action.remote is not None and action.remote.archived)

    def pulled(self, report: PullReport) -> None:
        """One line per file a pull wrote, removed or refused."""
        for result in report.results:
            if result.outcome == PullOutcome.PULLED:
                self.forget(result.slug)
                self(f"{result.slug}: pulled v{result.version}")
            elif result.outcome == PullOutcome.REMOVED:
                self.forget(result.slug)
                self(f"{result.slug}: archived on the server, file removed")
            else:
                self(f"{result.slug}: not pulled: {result.detail}")

    def sent(self, report: FlushReport) -> None:
        """One line per queued save or archive the server answered."""
        for sent in report.results:
            if sent.verdict:
                with self._lock:
                    self._refused[sent.path] = (sent.sha256, sent.problems)
            fixed = (sent.outcome in (PushOutcome.CREATED, PushOutcome.UNCHANGED)
                     and self._valid_again(sent))
            # A rename sent again after its answer was lost is "unchanged": it landed the
            # first time, and that was never said.
            if sent.outcome == PushOutcome.CREATED or (
                    sent.outcome == PushOutcome.UNCHANGED and sent.renamed_from):
                self.forget(sent.slug)
                renamed = f", renamed from {sent.renamed_from}" if sent.renamed_from else ""
                self(f"{sent.slug}: pushed v{sent.version}{renamed}")
            elif sent.outcome == PushOutcome.UNCHANGED and fixed:
                self(UNCHANGED.format(slug=sent.slug, version=sent.version))
            elif sent.outcome == PushOutcome.ARCHIVED:
                self.forget(sent.slug)
                self(f"{sent.slug}: archived")
            elif sent.archive or sent.renamed_from:
                self.lifecycle_refused(sent)
            elif sent.outcome == PushOutcome.CONFLICT:
                self.refused(sent.slug, sent.latest_version, sent.base_version, sent.sha256,
                             sent.dropped)
            elif sent.outcome == PushOutcome.INVALID:
                self.invalid(sent.path or f"{sent.slug}.yaml", sent.problems, sent.sha256)
            elif sent.outcome == PushOutcome.ERROR:
                self(f"{sent.slug}: not pushed: {sent.detail}")

    def forget(self, slug: str) -> None:
        """The prompt is fine again: its next deletion, refusal or conflict is news."""
        with self._lock:
            self._deleted.discard(slug)
            self._refusals.pop(slug, None)
            self._conflicts.pop(slug, None)
