"""The JSON that `--json` prints for scripts and CI: one documented shape per command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promptsync.cli.context import display

if TYPE_CHECKING:
    from promptsync.errors import Problem
    from promptsync.sync.plan import Action, Plan


def _problem(problem: Problem) -> dict[str, Any]:
    return {"line": problem.line, "column": problem.column, "message": problem.message}


def _action(action: Action) -> dict[str, Any]:
    return {
        "slug": action.slug,
        "status": action.status.value,
        "path": display(action.path) if action.path is not None else None,
        "base_version": action.base_version or None,
        "server_version": action.remote_version,
        "renamed_from": action.renamed_from,
        "problems": [_problem(p) for p in action.problems],
    }


def status_document(plan: Plan) -> dict[str, Any]:
    """Every prompt (in sync too) with its status, and how many are in each status."""
    return {"prompts": [_action(a) for a in plan.actions],
            "counts": {status.value: n for status, n in plan.counts().items()}}


def log_document(project: str, slug: str | None, versions: list[dict[str, Any]]
                 ) -> dict[str, Any]:
    """A prompt's versions as the API gives them, or the project's newest versions."""
    return {"project": project, "slug": slug, "versions": versions}


def labels_document(project: str, slug: str, label: str, moves: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """A label's moves as the API gives them, newest first (none: it was never set)."""
    return {"project": project, "slug": slug, "label": label, "moves": moves}
