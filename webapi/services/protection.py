"""A project's release settings: which labels are protected, and what moving one takes (a
clean commit: the provenance a version was pushed with or was given later)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import select, update

from webapi.auth.principal import ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Project, ProjectSettings, PromptVersion, VersionProvenance, utcnow
from webapi.services.events import log_event
from webapi.services.provenance import MAX_BRANCH
from webapi.services.versions import LABEL_RE

DEFAULT_PROTECTED = frozenset({"production"})
MAX_APPROVALS = 5
MAX_NAMES = 50  # protected labels, protected branches


@dataclass(frozen=True)
class ReleaseSettings:
    """What GET/PUT /projects/{p}/settings shows and takes."""

    protected_labels: tuple[str, ...] = tuple(sorted(DEFAULT_PROTECTED))
    approvals_required: int = 0
    protected_requires_clean_commit: bool = False
    protected_branches: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON (lists, not tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def release_settings(project_id: int) -> ReleaseSettings:
    """The project's settings; the defaults when it never saved any."""
    row = db.session.get(ProjectSettings, project_id)
    if row is None:
        return ReleaseSettings()
    return ReleaseSettings(tuple(row.protected_labels), row.approvals_required,
                           row.protected_requires_clean_commit, tuple(row.protected_branches))


def protected_labels(project_id: int) -> frozenset[str]:
    """The project's protected label names (``production`` unless its settings say otherwise)."""
    names = db.session.scalar(
        select(ProjectSettings.protected_labels).where(ProjectSettings.project_id == project_id)
    )
    return DEFAULT_PROTECTED if names is None else frozenset(names)


def _names(body: dict[str, Any], name: str, valid: Callable[[str], object], each: str
           ) -> tuple[str, ...]:
    value = body[name]
    if not isinstance(value, list) or len(value) > MAX_NAMES:
        raise HttpError(400, f"'{name}' must be a list of at most {MAX_NAMES} names.", field=name)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not valid(item):
            raise HttpError(400, f"'{name}[{index}]' must be {each}.", field=f"{name}[{index}]")
    return tuple(sorted(set(value)))


def _branch_ok(name: str) -> bool:
    # The same shape as a pushed version's git.branch, so any branch a push names can be listed.
    return 0 < len(name) <= MAX_BRANCH and name.isprintable()


def parse_settings(body: dict[str, Any], current: ReleaseSettings) -> ReleaseSettings:
    """``current`` with the fields ``body`` holds (fields left out keep their value); a 400
    naming the field for anything unknown or malformed."""
    unknown = sorted(set(body) - set(asdict(current)))
    if unknown:
        raise HttpError(400, f"Unknown setting '{unknown[0][:40]}'.", field=unknown[0][:40])
    changes: dict[str, Any] = {}
    if "protected_labels" in body:
        changes["protected_labels"] = _names(
            body, "protected_labels", LABEL_RE.match,
            "a label name (a-z, 0-9, '.', '_' and '-', up to 63 characters)")
    if "protected_branches" in body:
        changes["protected_branches"] = _names(
            body, "protected_branches", _branch_ok,
            f"a branch name (1 to {MAX_BRANCH} printable characters)")
    if "approvals_required" in body:
        value = body["approvals_required"]
        if isinstance(value, bool) or not isinstance(value, int) or not (
                0 <= value <= MAX_APPROVALS):
            raise HttpError(400, f"'approvals_required' must be an integer from 0 to "
                                 f"{MAX_APPROVALS}.", field="approvals_required")
        changes["approvals_required"] = value
    if "protected_requires_clean_commit" in body:
        value = body["protected_requires_clean_commit"]
        if not isinstance(value, bool):
            raise HttpError(400, "'protected_requires_clean_commit' must be true or false.",
                            field="protected_requires_clean_commit")
        changes["protected_requires_clean_commit"] = value
    return replace(current, **changes)


def update_settings(project: ProjectRef, actor: str, body: dict[str, Any]) -> ReleaseSettings:
    """Save the settings ``body`` changes; an event says what they were and became."""
    # A no-op write takes the project's row lock (SQLite: the write lock) first, so two
    # admins' changes cannot interleave, nor both insert the first row.
    db.session.commit()
    db.session.execute(update(Project).where(Project.id == project.id).values(slug=Project.slug))
    row = db.session.get(ProjectSettings, project.id)
    before = release_settings(project.id)
    after = parse_settings(body, before)
    if row is None:
        row = ProjectSettings(project_id=project.id)
        db.session.add(row)
    row.protected_labels = list(after.protected_labels)
    row.approvals_required = after.approvals_required
    row.protected_requires_clean_commit = after.protected_requires_clean_commit
    row.protected_branches = list(after.protected_branches)
    row.updated_by, row.updated_at = actor, utcnow()
    if after != before:
        log_event(project.id, actor, "settings.changed", None,
                  before=before.to_dict(), after=after.to_dict())
    db.session.commit()
    return after


def _clean(git: dict[str, Any] | None) -> bool:
    # dirty must be false, not merely absent: a push from outside git vouches for nothing.
    return git is not None and git.get("dirty") is False and bool(git.get("commit"))


def check_target(settings: ReleaseSettings, label: str, slug: str, prompt_id: int,
                 target: PromptVersion, actor: str, git: dict[str, Any] | None = None,
                 sha256: str | None = None) -> None:
    """check_provenance over every provenance known for ``target``: its push's, and those
    reported later. ``git`` (with the ``sha256`` of the file it describes), from the caller's
    checkout, is recorded first when it is clean and the file holds the target's bytes, so a
    version saved before its commit (watch) can be promoted once committed. As self-reported
    as a push's git (docs/SECURITY.md), and the version itself stays as it was."""
    if not settings.protected_requires_clean_commit:
        return
    known = list(db.session.scalars(
        select(VersionProvenance.git).where(VersionProvenance.prompt_id == prompt_id,
                                            VersionProvenance.version == target.version)
        .order_by(VersionProvenance.id)))
    note = ""
    if git is not None and sha256 != target.sha256:
        note = (f" Your file is not v{target.version}'s bytes: label the version it holds, or "
                "run this where the file holds them.")
    elif git is not None and _clean(git) and git not in known and git != target.git:
        db.session.add(VersionProvenance(prompt_id=prompt_id, version=target.version, git=git,
                                         actor=actor, created_at=utcnow()))
        known.append(git)
    check_provenance(settings, label, slug, [target.git, *known], target.version, note)


def check_provenance(settings: ReleaseSettings, label: str, slug: str,
                     sources: list[dict[str, Any] | None], version: int, note: str = "") -> None:
    """409 ``provenance`` when the settings ask protected labels for a clean commit (of one of
    the protected branches) and none of version ``version``'s git provenances shows one."""
    if not settings.protected_requires_clean_commit:
        return
    clean = [git for git in sources if git is not None and _clean(git)]
    run = (f"run 'promptsync label {slug} {label} {version}' in that checkout: it records the "
           f"commit when the file holds v{version}'s bytes.")
    if not clean:
        raise HttpError(409, f"'{label}' may point only at a version pushed from a committed, "
                             f"unmodified file; v{version} was not."
                             f"{note or ' Commit the file, then ' + run}",
                        "provenance")
    branches = settings.protected_branches
    if branches and not any(git.get("branch") in branches for git in clean):
        where = ", ".join(sorted({str(git.get("branch") or "no branch") for git in clean}))
        raise HttpError(409, f"'{label}' may point only at a version pushed from "
                             f"{', '.join(branches)}; v{version} came from {where}."
                             f"{note or ' Commit it there (merge), then ' + run}",
                        "provenance")
