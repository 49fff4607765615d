"""Prompt versions and labels: the domain rules, apart from HTTP parsing and routing."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from sqlalchemy import and_, select

from promptsync.errors import PromptFileError
from promptsync.format.prompt import parse_prompt, slug_problem, source_sha256
from webapi.auth.principal import ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Label, Prompt, PromptVersion, iso

LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def check_slug(slug: str) -> None:
    """404 for a slug that cannot exist, so nothing is ever stored under a bad name."""
    problem = slug_problem(slug)
    if problem is not None:
        raise HttpError(404, f"No prompt '{slug}': {problem}.")


def check_label_name(label: str) -> None:
    """400 for a label name outside [a-z0-9][a-z0-9._-]*."""
    if not LABEL_RE.match(label):
        raise HttpError(400, f"Bad label name '{label}': use a-z, 0-9, '.', '_' and '-'.")


def validate_source(source: object, slug: str) -> tuple[dict[str, Any], str]:
    """The parsed prompt and its hash, or a 422 listing every problem with its line."""
    if not isinstance(source, str):
        raise HttpError(400, "'source' must be a string holding the YAML file.")
    # The parser enforces the size limit, so the CLI and the API word it the same way.
    raw = source.encode("utf-8", errors="surrogatepass")
    try:
        prompt = parse_prompt(raw, path=slug)
    except PromptFileError as exc:
        first = exc.problems[0] if exc.problems else None
        where = f" (line {first.line})" if first is not None and first.line else ""
        message = first.message if first is not None else "invalid prompt"
        raise HttpError(
            422, f"The source is not a valid prompt{where}: {message}", "invalid_prompt",
            problems=[p.to_dict() for p in exc.problems],
        ) from None
    return prompt.to_dict(), source_sha256(raw)


def no_version(slug: str, number: int | str | None) -> HttpError:
    """The 404 for a version number the prompt does not have."""
    return HttpError(404, f"'{slug}' has no version {number}.")


def no_label(slug: str, label: str) -> HttpError:
    """The 404 for a label the prompt does not have."""
    return HttpError(404, f"No label '{label}' on '{slug}'.")


def archived(slug: str) -> HttpError:
    """The 410 for the latest version or a label of an archived prompt."""
    return HttpError(410, f"'{slug}' is archived: fetch a version by number, or restore it.")


def find_prompt_id(project: ProjectRef, slug: str) -> int:
    """The prompt's id, or 404."""
    check_slug(slug)
    prompt_id = db.session.scalar(
        select(Prompt.id).where(
            Prompt.project_id == project.id, Prompt.slug == slug, Prompt.latest_version > 0
        )
    )
    if prompt_id is None:
        raise HttpError(404, f"No prompt '{slug}' in project '{project.slug}'.")
    return prompt_id


def resolve_ref(prompt_id: int, slug: str, ref: str | int | None) -> int:
    """A version number from a number, a label name, or None (latest); 404 when unknown."""
    if ref is None or ref == "latest":
        number = db.session.scalar(select(Prompt.latest_version).where(Prompt.id == prompt_id))
        assert number is not None
        return number
    if isinstance(ref, int) or (ref.isascii() and ref.isdigit()):
        if int(ref) > 2**31 - 1:  # would overflow the INTEGER column (a 500 on SQLite)
            raise no_version(slug, ref)
        return int(ref)
    number = db.session.scalar(
        select(Label.version).where(Label.prompt_id == prompt_id, Label.name == ref)
    )
    if number is None:
        raise no_label(slug, ref)
    return number


def not_found(project: ProjectRef, slug: str, version: int | None, label: str | None) -> NoReturn:
    """404 for no such version: the prompt's own if it is missing, else the number's or label's;
    410 for the latest or a label of an archived prompt."""
    prompt_id = find_prompt_id(project, slug)
    if version is None and is_archived(prompt_id):
        raise archived(slug)
    raise no_label(slug, label) if label is not None else no_version(slug, version)


def is_archived(prompt_id: int) -> bool:
    """Whether the prompt is archived."""
    return db.session.scalar(select(Prompt.archived_at).where(Prompt.id == prompt_id)) is not None


def get_version(
    project: ProjectRef, slug: str, version: int | None = None, label: str | None = None,
    include_archived: bool = False,
) -> PromptVersion:
    """One version by number, label or latest, in as few queries as possible; the latest or a
    label of an archived prompt is a 410 unless include_archived."""
    check_slug(slug)
    query = (
        select(PromptVersion)
        .join(Prompt, Prompt.id == PromptVersion.prompt_id)
        .where(Prompt.project_id == project.id, Prompt.slug == slug)
    )
    if label is not None:
        query = query.join(
            Label,
            and_(Label.prompt_id == Prompt.id, Label.name == label,
                 Label.version == PromptVersion.version),
        )
    elif version is not None:
        query = query.where(PromptVersion.version == version)
    else:
        query = query.where(PromptVersion.version == Prompt.latest_version)
    if version is None and not include_archived:
        query = query.where(Prompt.archived_at.is_(None))
    found = db.session.scalar(query)
    if found is None:
        not_found(project, slug, version, label)
    return found


class FetchedVersion(NamedTuple):
    """A version read for the fetch route (webapi.fetch): plain values, with the labels that
    point at it."""

    version: int
    sha256: str
    data: dict[str, Any] = {}
    message: str | None = None
    author: str = ""
    created_at: dt.datetime | None = None
    git: dict[str, Any] | None = None
    source: str = ""
    renamed_from: str | None = None
    labels: list[str] = []
    full: bool = False  # False: only version and sha256 were read (enough for a 304)
    # Partials (SPEC §13): as written on the version ([{slug, version, label}], None for none),
    # then as resolved by the fetch ([{slug, ref, version}]) with the ETag that covers them.
    partials: list[dict[str, Any]] | None = None
    includes: list[dict[str, Any]] = []
    etag: str = ""  # "": the version's sha256

    @property
    def tag(self) -> str:
        """The ETag's value: the sha256, or with includes one that changes when they do."""
        return self.etag or self.sha256


def labels_of(prompt_id: int, version: int) -> list[str]:
    """Names of the labels pointing at one version."""
    return sorted(
        db.session.scalars(
            select(Label.name).where(Label.prompt_id == prompt_id, Label.version == version)
        )
    )


def version_dict(
    project_slug: str, slug: str, v: PromptVersion | FetchedVersion, labels: list[str]
) -> dict:
    """A version as the API shows it."""
    return {
        "project": project_slug,
        "slug": slug,
        "version": v.version,
        "sha256": v.sha256,
        "output_schema": None,  # versions stored before output_schema existed lack the key
        **v.data,
        "labels": labels,
        "message": v.message,
        "author": v.author,
        "created_at": iso(v.created_at),
        "git": v.git,
        "renamed_from": v.renamed_from,
        "source": v.source,
    }


@dataclass(frozen=True)
class VersionDiff:
    """A unified diff between two versions of one prompt, and the prompt's id for its history."""

    # Version 0 is the empty text before version 1: a one-version prompt's default diff shows
    # its whole text added.

    prompt_id: int
    from_version: int
    to_version: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The diff as the API shows it."""
        return {"from": self.from_version, "to": self.to_version, "diff": self.text}


def diff_versions(
    project: ProjectRef, slug: str, ref_from: str | None, ref_to: str | None
) -> VersionDiff:
    """Unified diff between two versions (default: the one before latest and latest)."""
    prompt_id = find_prompt_id(project, slug)
    to_number = resolve_ref(prompt_id, slug, ref_to)
    from_number = (
        resolve_ref(prompt_id, slug, ref_from) if ref_from is not None else max(to_number - 1, 0)
    )
    if to_number == 0:  # only the "from" side may be the empty text before version 1
        raise no_version(slug, 0)
    sources = {
        v.version: v.source
        for v in db.session.scalars(
            select(PromptVersion).where(
                PromptVersion.prompt_id == prompt_id,
                PromptVersion.version.in_([from_number, to_number]),
            )
        )
    }
    for number in (from_number, to_number):
        if number != 0 and number not in sources:
            raise no_version(slug, number)
    diff = difflib.unified_diff(
        sources.get(from_number, "").splitlines(keepends=True),
        sources[to_number].splitlines(keepends=True),
        fromfile=f"{slug}@v{from_number}",
        tofile=f"{slug}@v{to_number}",
    )
    return VersionDiff(prompt_id, from_number, to_number, "".join(diff))
