"""Creating versions, one or a batch at a time, with gap-free numbers under any concurrency."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from promptsync.format.partials import has_includes
from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Prompt, PromptVersion, utcnow
from webapi.services.events import log_events
from webapi.services.partials import check_push, lock_includes, partials_column
from webapi.services.provenance import check_git
from webapi.services.versions import check_slug, labels_of, validate_source, version_dict

DEADLOCK_RETRIES = 3
T = TypeVar("T")


@dataclass
class PushItem:
    """One source to store as the next version of slug."""

    slug: str
    source: object
    message: str | None = None
    parent_version: int | None = None
    git: dict[str, Any] | None = None
    # A rename (webapi.services.renames): the slug this source was at, and the version of it
    # the client last synced (a compare-and-swap on the old slug's latest).
    renamed_from: str | None = None
    renamed_from_version: int | None = None
    # Filled in by validation:
    data: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""


@dataclass
class PushOutcome:
    """What became of one item: created, unchanged, conflict, or an error (invalid or bad)."""

    slug: str
    status: str
    version: dict[str, Any] | None = None
    error: HttpError | None = None


def push_versions(
    project: ProjectRef, principal: Principal, items: Sequence[PushItem]
) -> list[PushOutcome]:
    """Store every valid item; each is judged alone, in a few statements per batch."""
    outcomes: list[PushOutcome | None] = [None] * len(items)
    valid: list[tuple[int, PushItem]] = []
    for index, item in enumerate(items):
        outcomes[index] = refused = validate_item(item)
        if refused is None:
            valid.append((index, item))
    valid = _refuse_bad_includes(project, valid, outcomes)
    for group in _rounds(valid):
        for index, outcome in retry_deadlocks(partial(_store, project, principal, group)):
            outcomes[index] = outcome
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


def validate_item(item: PushItem) -> PushOutcome | None:
    """Fill in the item's parsed data and hash; or the outcome that refuses it."""
    try:
        check_slug(item.slug)
        item.git = check_git(item.git)
        item.data, item.sha256 = validate_source(item.source, item.slug)
    except HttpError as exc:
        return refusal(item.slug, exc)
    return None


def _refuse_bad_includes(project: ProjectRef, valid: list[tuple[int, PushItem]],
                         outcomes: list[PushOutcome | None]) -> list[tuple[int, PushItem]]:
    """The items left after refusing those whose partials make a cycle or name a missing
    prompt (SPEC §13); a push without any "{{>" pays one substring test per item."""
    if not any(isinstance(item.source, str) and has_includes(item.source) for _, item in valid):
        return valid
    errors = check_push(project, {item.slug: item.data for _, item in valid})
    for index, item in valid:
        if item.slug in errors:
            outcomes[index] = refusal(item.slug, errors[item.slug])
    return [(index, item) for index, item in valid if item.slug not in errors]


def _includes_locked(project: ProjectRef, group: list[tuple[int, PushItem]]
                     ) -> dict[str, HttpError]:
    """The include check again, in the storing transaction under the project's includes lock,
    so two pushes racing to close a cycle cannot both pass it."""
    if not any(isinstance(item.source, str) and has_includes(item.source) for _, item in group):
        return {}
    lock_includes(project)
    return check_push(project, {item.slug: item.data for _, item in group})


def refusal(slug: str, exc: HttpError) -> PushOutcome:
    """An item's outcome for an error: invalid (422), conflict (409) or error."""
    status = {422: "invalid", 409: "conflict"}.get(exc.status, "error")
    return PushOutcome(slug, status, error=exc)


def _rounds(valid: list[tuple[int, PushItem]]) -> Iterator[list[tuple[int, PushItem]]]:
    # A slug pushed twice in one batch is stored in order: one occurrence per round.
    pending = valid
    while pending:
        seen: set[str] = set()
        now: list[tuple[int, PushItem]] = []
        later: list[tuple[int, PushItem]] = []
        for entry in pending:
            (later if entry[1].slug in seen else now).append(entry)
            seen.add(entry[1].slug)
        yield sorted(now, key=lambda entry: entry[1].slug)
        pending = later


def retry_deadlocks(work: Callable[[], T]) -> T:
    """work(), one transaction, run again when Postgres broke a deadlock by failing it."""
    for attempt in range(DEADLOCK_RETRIES):
        try:
            return work()
        except OperationalError as exc:
            db.session.rollback()
            deadlock = getattr(exc.orig, "pgcode", None) == "40P01"
            if not deadlock or attempt == DEADLOCK_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def insert_missing_prompts(project: ProjectRef, slugs: list[str], now: Any) -> None:
    """Add a row (no version yet) for each slug the project lacks; a write, so SQLite's lock."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    rows = [{"project_id": project.id, "slug": s, "latest_version": 0, "created_at": now,
             "updated_at": now} for s in slugs]
    db.session.execute(
        module.insert(Prompt.__table__).values(rows).on_conflict_do_nothing(
            index_elements=["project_id", "slug"]
        )
    )


def _store(
    project: ProjectRef, principal: Principal, group: list[tuple[int, PushItem]]
) -> list[tuple[int, PushOutcome]]:
    # End any read transaction from authentication: SQLite must not upgrade a stale reader.
    db.session.commit()
    now = utcnow()
    slugs = [item.slug for _, item in group]
    # The first write takes SQLite's write lock; Postgres then locks the rows in id order,
    # so two concurrent batches over the same prompts queue instead of deadlocking.
    insert_missing_prompts(project, slugs, now)
    locked = db.session.execute(
        select(Prompt.id, Prompt.slug, Prompt.latest_version, Prompt.archived_at)
        .where(Prompt.project_id == project.id, Prompt.slug.in_(slugs))
        .order_by(Prompt.id)
        .with_for_update()
    ).all()
    by_slug = {slug: (prompt_id, latest) for prompt_id, slug, latest, _ in locked}
    archived = {prompt_id for prompt_id, _, _, archived_at in locked if archived_at is not None}
    latest_sha = dict(
        db.session.execute(
            select(PromptVersion.prompt_id, PromptVersion.sha256)
            .join(Prompt, Prompt.id == PromptVersion.prompt_id)
            .where(Prompt.id.in_([pid for pid, _ in by_slug.values()]),
                   PromptVersion.version == Prompt.latest_version)
        ).all()
    )
    results: list[tuple[int, PushOutcome]] = []
    created: list[dict[str, Any]] = []
    created_slugs: list[str] = []
    unchanged: list[tuple[int, PushItem, int, int]] = []
    bad_includes = _includes_locked(project, group)
    for index, item in group:
        if item.slug in bad_includes:  # what another push stored since the first check
            results.append((index, refusal(item.slug, bad_includes[item.slug])))
            continue
        prompt_id, current = by_slug[item.slug]
        # A push to an archived prompt restores it with a new version, even of the same bytes.
        if current > 0 and latest_sha.get(prompt_id) == item.sha256 and prompt_id not in archived:
            # Checked before the parent: a retried push that already landed is not a conflict.
            unchanged.append((index, item, prompt_id, current))
        elif item.parent_version is not None and item.parent_version != current:
            error = HttpError(
                409,
                f"'{item.slug}' is at version {current}, not {item.parent_version}: "
                "pull, merge and push again.",
                "conflict",
                latest_version=current,
            )
            results.append((index, PushOutcome(item.slug, "conflict", error=error)))
        else:
            row = {
                "prompt_id": prompt_id, "version": current + 1, "sha256": item.sha256,
                "source": item.source, "data": item.data, "message": item.message,
                "author": principal.email, "git": item.git, "created_at": now,
                "partials": partials_column(item.source, item.data),
            }
            created.append(row)
            created_slugs.append(item.slug)
            version = PromptVersion(**row)
            results.append(
                (index, PushOutcome(item.slug, "created",
                                    version_dict(project.slug, item.slug, version, [])))
            )
    if created:
        db.session.execute(
            update(Prompt.__table__)
            .where(Prompt.__table__.c.id == bindparam("pid"))
            .values(latest_version=bindparam("number"), updated_at=now),
            [{"pid": row["prompt_id"], "number": row["version"]} for row in created],
        )
        db.session.execute(insert(PromptVersion.__table__), created)
        log_events(
            [{"project_id": project.id, "actor": principal.actor, "action": "version.created",
              "slug": slug, "details": {"version": row["version"], "sha256": row["sha256"]},
              "created_at": now}
             for slug, row in zip(created_slugs, created, strict=True)],
        )
        restored = [(slug, row) for slug, row in zip(created_slugs, created, strict=True)
                    if row["prompt_id"] in archived]
        if restored:
            db.session.execute(update(Prompt).where(Prompt.id.in_(
                [row["prompt_id"] for _, row in restored])).values(archived_at=None))
            log_events([
                {"project_id": project.id, "actor": principal.actor, "action": "prompt.restored",
                 "slug": slug, "details": {"version": row["version"], "by": "push"},
                 "created_at": now} for slug, row in restored])
    db.session.commit()
    for index, item, prompt_id, current in unchanged:
        latest = db.session.scalar(
            select(PromptVersion).where(PromptVersion.prompt_id == prompt_id,
                                        PromptVersion.version == current)
        )
        assert latest is not None
        shown = version_dict(project.slug, item.slug, latest, labels_of(prompt_id, current))
        results.append((index, PushOutcome(item.slug, "unchanged", shown)))
    return results


def create_version(
    project: ProjectRef,
    slug: str,
    source: object,
    principal: Principal,
    message: str | None = None,
    parent_version: int | None = None,
    git: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Store one source: (201, version) new, (200, latest) unchanged; raises 404/409/422."""
    item = PushItem(slug, source, message, parent_version, git)
    (outcome,) = push_versions(project, principal, [item])
    if outcome.error is not None:
        raise outcome.error
    assert outcome.version is not None
    return (201 if outcome.status == "created" else 200), outcome.version
