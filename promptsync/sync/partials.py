"""Partials in the local tree: lint resolves ``{{> slug }}`` against the files (their latest),
and status names the prompts a change to a partial affects. Labels and versions live on the
server, so an include that names one is listed as not judged offline rather than guessed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from promptsync.errors import PromptFileError
from promptsync.format.partials import Found, PartialError, expand, prompt_includes
from promptsync.format.prompt import Prompt, parse_prompt
from promptsync.sync.scan import LocalFile

_STUB = Prompt(type="text", template="")  # stands for what cannot be judged offline


@dataclass
class IncludeReport:
    """What lint says of one file's includes: problems, and includes it cannot judge offline."""

    problems: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)


def parsed_tree(files: Iterable[LocalFile]) -> dict[str, Prompt]:
    """slug -> Prompt for every file that parses (the others are reported by lint already)."""
    out: dict[str, Prompt] = {}
    for local in files:
        try:
            out[local.slug] = parse_prompt(local.data, local.relpath)
        except PromptFileError:
            continue
    return out


def check_includes(slug: str, tree: Mapping[str, Prompt]) -> IncludeReport:
    """Resolve one prompt's includes against the tree: cycles, missing targets, chat targets."""
    report = IncludeReport()
    prompt = tree.get(slug)
    if prompt is None or not prompt_includes(prompt):
        return report

    def lookup(target: str, version: int | None, label: str | None) -> Found | None:
        if version is not None or label is not None:
            written = f"{target}@{version if version is not None else label}"
            if written not in report.unjudged:
                report.unjudged.append(written)
            return Found(_STUB, 0)
        found = tree.get(target)
        return None if found is None else Found(found, 0)

    try:
        expand(slug, prompt, lookup)
    except PartialError as exc:
        if exc.kind == "missing":
            report.problems.append(f"included prompt {exc.chain[-1]} is not in the tree "
                                   f"({' -> '.join(exc.chain)})")
        else:
            report.problems.append(str(exc))
    return report


def dependents(tree: Mapping[str, Prompt]) -> dict[str, set[str]]:
    """slug -> the prompts that include it, directly or through other includes."""
    direct: dict[str, set[str]] = {}
    for slug, prompt in tree.items():
        for include in prompt_includes(prompt):
            direct.setdefault(include.slug, set()).add(slug)
    out: dict[str, set[str]] = {}
    for target in direct:
        seen: set[str] = set()
        todo = [target]
        while todo:
            for includer in direct.get(todo.pop(), ()):
                if includer not in seen and includer != target:
                    seen.add(includer)
                    todo.append(includer)
        out[target] = seen
    return out


def affected_by(files: Iterable[LocalFile]) -> dict[str, set[str]]:
    """slug -> the prompts of the tree a change to it affects (they include it, maybe through
    others); only files holding "{{>" are parsed, so a tree without partials costs a scan."""
    return dependents(parsed_tree(f for f in files if b"{{>" in f.data))
