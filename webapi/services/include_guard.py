"""A label move or removal never leaves an include unresolved (SPEC §11, §13): the label's own
fetch must resolve at its new version (409 ``broken_include``), and no fetch that resolves now
through the label (an includer's latest or labelled version, directly or through other partials)
may stop resolving (409 ``included``, named as an archive names them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from promptsync.format.partials import (
    MAX_DEPTH,
    Found,
    Lookup,
    PartialError,
    chain_text,
    expand,
)
from webapi.auth.principal import ProjectRef
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import Prompt, PromptVersion
from webapi.services.partials import (
    as_prompt,
    db_lookup,
    dependent_uses,
    lock_includes,
    uses_text,
)


@dataclass
class _Probe:
    """A lookup that remembers whether it read ``slug``'s ``label`` and what it last missed."""

    lookup: Lookup
    slug: str
    label: str
    read_label: bool = False
    missed: tuple[str, int | None, str | None] | None = None
    found: dict[tuple[str, int | None, str | None], Found | None] = field(default_factory=dict)

    def __call__(self, slug: str, version: int | None, label: str | None) -> Found | None:
        if (slug, version, label) == (self.slug, None, self.label):
            self.read_label = True
        key = (slug, version, label)
        if key not in self.found:  # one query per include, however often it is reached
            self.found[key] = self.lookup(slug, version, label)
        if self.found[key] is None:
            self.missed = key
        return self.found[key]


def _moved_lookup(project: ProjectRef, slug: str, label: str,
                  target: PromptVersion | None) -> Lookup:
    """The project's lookup as it will be once ``label`` of ``slug`` points at ``target``."""
    stored = db_lookup(project)
    moved = None if target is None else Found(as_prompt(target.data), target.version,
                                              target.sha256)

    def lookup(name: str, version: int | None, by: str | None) -> Found | None:
        if (name, version, by) == (slug, None, label):
            return moved
        return stored(name, version, by)

    return lookup


def _reason(project: ProjectRef, exc: PartialError, missed: Any) -> str:
    """Why an include does not resolve, in a few words: "x is archived: a -> x"."""
    if exc.kind != "missing" or missed is None:
        return str(exc)
    name, version, label = missed
    archived = version is None and db.session.scalar(
        select(Prompt.archived_at).where(Prompt.project_id == project.id, Prompt.slug == name)
    ) is not None
    written = name if version is None and label is None else f"{name}@{version or label}"
    what = f"{name} is archived" if archived else f"{written} does not exist"
    return f"{what}: {chain_text(exc.chain)}"


def _fetch_fails(project: ProjectRef, slug: str, data: Any, ref: str | None,
                 lookup: Lookup, moved: tuple[str, str]) -> tuple[bool, str | None]:
    """(whether the fetch of ``slug`` by ``ref`` reads the moved label, why it fails after the
    move or None)."""
    probe = _Probe(lookup, *moved)
    try:
        expand(slug, as_prompt(data), probe, ref)
    except PartialError as exc:
        return probe.read_label, _reason(project, exc, probe.missed)
    return probe.read_label, None


def _includer_fetches(project: ProjectRef, slug: str) -> list[tuple[str, str, int]]:
    """(includer, ref, version) of every live fetch that includes ``slug``, directly or
    through other partials (up to the include depth), by latest or a label."""
    found: dict[tuple[str, str], int] = {}
    reached, frontier = {slug}, [slug]
    for _ in range(MAX_DEPTH):
        step: list[str] = []
        for partial in frontier:
            for use in dependent_uses(project, partial):
                for via in use["via"]:
                    found.setdefault((use["slug"], via["ref"]), via["version"])
                if use["slug"] not in reached:
                    reached.add(use["slug"])
                    step.append(use["slug"])
        if not step:
            break
        frontier = step
    return [(includer, ref, version) for (includer, ref), version in sorted(found.items())]


def _data(prompt_slug: str, version: int, project: ProjectRef) -> Any:
    return db.session.scalar(
        select(PromptVersion.data).join(Prompt, Prompt.id == PromptVersion.prompt_id)
        .where(Prompt.project_id == project.id, Prompt.slug == prompt_slug,
               PromptVersion.version == version))


def check_label_change(project: ProjectRef, slug: str, label: str,
                       target: PromptVersion | None) -> None:
    """409 when pointing ``label`` of ``slug`` at ``target`` (None: removing it) leaves an
    include unresolved; nothing changes. Call in the transaction that will move it, after the
    prompt's lock: it takes the includes lock, so no archive or push slips in before the commit."""
    lock_includes(project)
    doing = (f"remove '{label}' from '{slug}'" if target is None
             else f"point '{label}' of '{slug}' at v{target.version}")
    after = _moved_lookup(project, slug, label, target)
    if target is not None and target.partials is not None:
        _check_own(project, slug, label, target, doing, after)
    broken: dict[str, list[dict[str, Any]]] = {}
    first: str | None = None
    before = db_lookup(project)
    for includer, ref, version in _includer_fetches(project, slug):
        data, by = _data(includer, version, project), None if ref == "latest" else ref
        reads, was = _fetch_fails(project, includer, data, by, before, (slug, label))
        if not reads or was is not None:  # not through this label, or broken already
            continue
        _, why = _fetch_fails(project, includer, data, by, after, (slug, label))
        if why is not None:
            broken.setdefault(includer, []).append({"ref": ref, "version": version})
            first = first or why
    if broken:
        uses = [{"slug": s, "via": via} for s, via in sorted(broken.items())]
        whose = "whose fetch" if len(uses) == 1 else "whose fetches"
        raise HttpError(
            409, f"Cannot {doing}: it is included by {uses_text(uses)}, {whose} would then "
                 f"fail ({first}); point those includes elsewhere, or move those labels, first.",
            "included", dependents=[use["slug"] for use in uses],
            via={use["slug"]: use["via"] for use in uses})


def _check_own(project: ProjectRef, slug: str, label: str, target: PromptVersion,
               doing: str, after: Lookup) -> None:
    """409 ``broken_include`` when the label's own fetch would not resolve at ``target``."""
    probe = _Probe(after, slug, label)
    try:
        expand(slug, as_prompt(target.data), probe, label)
    except PartialError as exc:
        why, chain = _reason(project, exc, probe.missed), exc.chain
        included = chain[1] if len(chain) > 1 else chain[-1]
        how = f"point '{label}' at a version without that include"
        if why.startswith(f"{chain[-1]} is archived"):
            how = f"restore '{chain[-1]}', or {how}"
        raise HttpError(409, f"Cannot {doing}: its include of '{included}' would not resolve "
                             f"({why}); {how}.", "broken_include", chain=chain) from None
