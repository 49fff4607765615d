"""The lifecycle half of a plan: archive the prompts of deleted files (push), remove the files of
archived prompts (pull). Renames travel with the uploads (sync/push.py); this is the rest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from promptsync.errors import ApiError, PromptSyncError
from promptsync.protocol import PushOutcome
from promptsync.sync.advice import Disagreement, advice
from promptsync.sync.plan import Action, Plan, Status
from promptsync.sync.pull import PullOutcome, PullReport, PullResult
from promptsync.sync.push import PushReport, PushResult
from promptsync.sync.state import SyncState
from promptsync.sync.writes import remove_file

if TYPE_CHECKING:
    from promptsync.client.api import ApiClient

# What to do when a protected label (production) holds a prompt the push would archive: the
# server refuses (409 protected_label), and only an admin can move the label or force it.
PROTECTED_HINT = ("a protected label points at it: an admin moves or removes that label (or "
                  "archives it with force in the admin), then push again; or restore the file")
# Answers about the key or the server, not the prompt: every other request would get them too.
_STOPS = frozenset({401, 429})


def to_archive(plan: Plan, force: bool) -> list[Action]:
    """The prompts a push archives: files deleted while in sync (any deleted one with force)."""
    return [a for a in plan.actions if a.local is None and a.remote is not None
            and not a.remote.archived
            and (a.status == Status.DELETED or (force and a.status == Status.CONFLICT))]


def archive_deleted(
    plan: Plan,
    state: SyncState,
    api: ApiClient,
    project: str | None,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> PushReport:
    """Archive the prompts of deleted files, each a compare-and-swap on the version last
    synced (none with ``force``); a conflict not forced is refused like any other."""
    report = PushReport()
    for action in plan.actions:
        if action.status == Status.CONFLICT and action.local is None and not force:
            report.results.append(PushResult(action.slug, PushOutcome.CONFLICT, action.relpath,
                                             base_version=action.base_version,
                                             latest_version=action.remote_version))
    todo = to_archive(plan, force)
    if dry_run:
        report.results += [PushResult(a.slug, PushOutcome.WOULD_ARCHIVE, a.relpath,
                                      version=a.remote_version) for a in todo]
        return report
    try:
        for action in todo:
            report.results.append(_archive(state, api, project, action, force))
    except PromptSyncError as exc:
        report.error = exc  # the server is gone or refuses the key: the rest waits
    finally:
        state.save()
    return report


def send_archive(api: ApiClient, project: str | None, slug: str, expected: int | None
                 ) -> ApiError | None:
    """Archive one prompt: None once it is archived (already was, too: 404), else the
    server's refusal (a conflict, a protected label); raises what stops every request (no
    server, a refused key, throttling)."""
    try:
        api.archive(project, slug, expected_version=expected)
    except ApiError as exc:
        if exc.status in _STOPS:
            raise
        if exc.status == 404:
            return None  # archived meanwhile (by a colleague, or by us before a crash)
        return exc
    return None


def _archive(state: SyncState, api: ApiClient, project: str | None, action: Action,
             force: bool) -> PushResult:
    """Archive one prompt; raises what stops the push (no server, a refused key)."""
    refused = send_archive(api, project, action.slug, None if force else action.base_version)
    if refused is not None and refused.code == "conflict":
        latest = refused.body.get("latest_version")
        return PushResult(action.slug, PushOutcome.CONFLICT, action.relpath,
                          base_version=action.base_version,
                          latest_version=latest if isinstance(latest, int) else None,
                          detail=refused.detail, code=refused.code)
    if refused is not None:
        return PushResult(action.slug, PushOutcome.ERROR, action.relpath,
                          detail=refused.detail, code=refused.code)
    # Kept as archived (the plan ignores it): a file put back restores it from this version.
    state.mark_archived(action.slug)
    return PushResult(action.slug, PushOutcome.ARCHIVED, action.relpath,
                      version=action.remote_version)


def removal_refused(action: Action) -> str | None:
    """Why pull keeps the file of an archived prompt (edited here); None when it removes it."""
    if action.status == Status.ARCHIVED:
        return None
    return (f"archived on the server, and the file has changes since v{action.base_version}: "
            f"{advice(Disagreement.ARCHIVED_THERE)}")


def remove_archived(plan: Plan, state: SyncState, root: Path, *, force: bool = False
                    ) -> PullReport:
    """Remove the files of archived prompts, only when unchanged since last in sync (any
    with ``force``); an edited one is refused, never deleted."""
    report = PullReport()
    for action in plan.actions:
        if action.remote is None or not action.remote.archived or action.local is None:
            continue
        if action.status not in (Status.ARCHIVED, Status.CONFLICT):
            continue
        reason = None if force else removal_refused(action)
        if reason is None:
            try:
                remove_file(root, action.local.path, action.local.sha256, force=force)
            except PromptSyncError as exc:
                reason = str(exc)
        if reason is not None:
            report.results.append(PullResult(action.slug, PullOutcome.REFUSED,
                                             action.relpath, detail=reason))
            continue
        # After the file is gone: a crash before this leaves an entry that no longer matters
        # (no file, prompt archived), never a file that looks new and gets pushed.
        state.mark_archived(action.slug)
        report.results.append(PullResult(action.slug, PullOutcome.REMOVED, action.relpath,
                                         version=action.remote_version))
    if report.results:
        state.save()
    return report
