"""Admin pages for prompts: the list, one prompt (view, edit, history, labels), and diffs."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from promptsync.format.prompt import slug_problem
from webapi.admin.common import bp, flash_error, form_int
from webapi.admin.queries import (
    archived_at,
    diff_lines,
    group_by_folder,
    history,
    label_map,
    pretty,
    prompt_rows,
)
from webapi.auth.principal import ProjectAccess, ProjectRef
from webapi.auth.roles import project_role
from webapi.characters import text_problem
from webapi.errors import HttpError
from webapi.models import PromptVersion
from webapi.services.catalog import Listed
from webapi.services.contracts import protected_breaks
from webapi.services.labels import delete_label, set_label
from webapi.services.protection import protected_labels
from webapi.services.pushes import create_version
from webapi.services.versions import diff_versions, get_version

MAX_MESSAGE = 10_000


@bp.get("/p/<p>/")
def prompt_list(p: str) -> Any:
    """Every prompt of the project, grouped by folder, filtered by ?q=."""
    access = project_role(p, "viewer")
    q = request.args.get("q", "").strip()[:200]
    rows, more = prompt_rows(access.project, q)
    archived, more_archived = prompt_rows(access.project, q, Listed.ARCHIVED)
    return render_template("admin/prompt_list.html", project=access.project, role=access.role, q=q,
                           groups=group_by_folder(rows), count=len(rows), more=more,
                           archived=archived, more_archived=more_archived)


def _new_page(access: ProjectAccess, status: int = 200, **form: Any) -> Any:
    context = {"slug": "", "source": "", "message": "", "slug_error": None, "exists": None,
               "save_error": None, "problems": None, **form}
    return render_template("admin/new_prompt.html", project=access.project, role=access.role,
                           **context), status


def _slug_error(slug: str) -> str | None:
    """Why a typed slug cannot be used, worded for the form; None when it is fine."""
    for ext in (".yaml", ".yml"):
        if slug.endswith(ext) and slug_problem(slug[: -len(ext)]) is None:
            return (f"Leave out the '{ext}' extension: the slug of {slug} "
                    f"is '{slug[: -len(ext)]}'.")
    problem = slug_problem(slug)
    return None if problem is None else f"That slug cannot be used: {problem}."


@bp.get("/p/<p>/new")
def new_prompt(p: str) -> Any:
    """The form for a new prompt: slug, YAML source and message (editors and admins)."""
    return _new_page(project_role(p, "editor"))


@bp.post("/p/<p>/new")
def create_prompt(p: str) -> Any:
    """Store version 1 of a new prompt through the API's push path; nothing saved on an error."""
    access = project_role(p, "editor")
    slug = request.form.get("slug", "").strip()
    source = request.form.get("source", "").replace("\r\n", "\n")
    message = request.form.get("message", "").strip() or None
    kept = {"slug": slug, "source": source, "message": message or ""}
    slug_error = _slug_error(slug)
    if slug_error is not None:
        return _new_page(access, 400, slug_error=slug_error, **kept)
    message_error = _message_error(message)
    if message_error is not None:
        return _new_page(access, 400, save_error=message_error, **kept)
    return _create_first(access, kept)


def _message_error(message: str | None) -> str | None:
    if message is None:
        return None
    if len(message) > MAX_MESSAGE:
        return "The message is longer than 10,000 characters."
    problem = text_problem(message, one_line=False)  # the API's rule for any text
    if problem is not None:
        return f"The message {problem}; remove it."
    return None


def _create_first(access: ProjectAccess, kept: dict[str, Any]) -> Any:
    slug = kept["slug"]
    try:
        # parent_version=0: "new", so an existing prompt is a 409, never a silent version 2.
        status, version = create_version(access.project, slug, kept["source"], access.principal,
                                         kept["message"] or None, 0)
    except HttpError as exc:
        if exc.status == 409:
            return _new_page(access, 409, exists=exc.extra.get("latest_version"), **kept)
        if exc.status not in (400, 404, 422):
            raise
        return _new_page(access, exc.status, save_error=exc.detail,
                         problems=exc.extra.get("problems") or [], **kept)
    if status != 201:  # the same bytes as its latest version: it exists already
        return _new_page(access, 409, exists=version["version"], **kept)
    flash(f"Created {slug} as version 1.", "success")
    return redirect(url_for("admin.prompt_page", p=access.project.slug, slug=slug))


def curl_lines(project: ProjectRef, slug: str, number: int, labels: dict[str, int]) -> list[str]:
    """Ready-to-paste fetches; the key stays an environment variable, never a real one."""
    base = f"{request.url_root}api/v1/projects/{project.slug}/prompts/{slug}"
    lines = [f'curl -H "X-API-Key: $PROMPTSYNC_API_KEY" "{base}?version={number}"']
    for name, target in labels.items():
        if target == number:
            lines.append(f'curl -H "X-API-Key: $PROMPTSYNC_API_KEY" "{base}?label={name}"')
    return lines


def _page(access: ProjectAccess, slug: str, shown: PromptVersion, status: int = 200,
          **form: Any) -> Any:
    """The prompt page for one version, optionally with a refused edit's text and errors."""
    project = access.project
    versions, labels_by_version, more = history(shown.prompt_id)
    latest = versions[0].version
    labels = label_map(shown.prompt_id)
    protected = protected_labels(project.id)
    context = {
        "project": project, "role": access.role, "slug": slug, "shown": shown, "data": shown.data,
        "latest": latest, "versions": versions, "labels_by_version": labels_by_version,
        "more_history": more, "labels": labels, "pretty": pretty,
        "protected": protected,
        # What moving a protected label to this version would break, shown before the click.
        "breaks": protected_breaks(shown.prompt_id, labels, protected, shown),
        "curl": curl_lines(project, slug, shown.version, labels),
        "source": form.get("source", shown.source),
        "parent_version": form.get("parent_version", shown.version),
        "message": form.get("message", ""),
        "problems": form.get("problems"), "conflict": form.get("conflict"),
        "save_error": form.get("save_error"), "archived_at": archived_at(shown.prompt_id),
    }
    return render_template("admin/prompt.html", **context), status


@bp.get("/p/<p>/prompts/<path:slug>")
def prompt_page(p: str, slug: str) -> Any:
    """One version (?v=N, default latest): rendered, editable source, history and labels."""
    access = project_role(p, "viewer")
    raw = request.args.get("v", "")
    number = int(raw) if raw.isdigit() and len(raw) < 10 else None
    return _page(access, slug, get_version(access.project, slug, number, include_archived=True))


@bp.post("/p/<p>/prompts/<path:slug>/-/save")
def save(p: str, slug: str) -> Any:
    """Store the edited source as a new version based on the version the form was loaded from."""
    access = project_role(p, "editor")
    project = access.project
    # Browsers send textarea lines with CRLF; store what the user sees, with LF endings.
    source = request.form.get("source", "").replace("\r\n", "\n")
    message = request.form.get("message", "").strip() or None
    parent = form_int("parent_version")
    # After a conflict the user may knowingly save on top of the newer version.
    rebase = request.form.get("rebase", "")
    base = int(rebase) if rebase.isdigit() and len(rebase) < 10 else parent
    kept = {"source": source, "message": message or "", "parent_version": parent}
    message_error = _message_error(message)
    if message_error is not None:
        return _page(access, slug, get_version(project, slug, parent), 400,
                     save_error=message_error, **kept)
    try:
        status, version = create_version(project, slug, source, access.principal, message, base)
    except HttpError as exc:
        if exc.status not in (400, 409, 422):
            raise
        shown = get_version(project, slug, parent)
        if exc.status == 409:
            latest = exc.extra.get("latest_version")
            return _page(access, slug, shown, 409, conflict=latest, **kept)
        return _page(access, slug, shown, exc.status, save_error=exc.detail,
                     problems=exc.extra.get("problems") or [], **kept)
    if status == 201:
        flash(f"Saved {slug} as version {version['version']}.", "success")
    else:
        flash(f"No change: the source is identical to version {version['version']}.", "info")
    return redirect(url_for("admin.prompt_page", p=p, slug=slug))


@bp.post("/p/<p>/prompts/<path:slug>/-/labels")
def move_label(p: str, slug: str) -> Any:
    """Point a label at a version (promotion or rollback), or remove it."""
    access = project_role(p, "editor")
    project, role, principal = access.project, access.role, access.principal
    label = request.form.get("label", "").strip().lower()
    expected_raw = request.form.get("expected_version", "")
    expected = int(expected_raw) if expected_raw.isdigit() and len(expected_raw) < 10 else None
    back = request.form.get("back_version", "")
    target = url_for("admin.prompt_page", p=p, slug=slug, v=back if back.isdigit() else None)
    try:
        if request.form.get("action") == "remove":
            opened = delete_label(project, slug, label, principal, role, expected)
            if opened is not None:
                flash(f"Request #{opened['request']['id']} to remove '{label}' waits for another "
                      "admin's approval (Promotions).", "info")
            else:
                flash(f"Removed label '{label}'.", "success")
        else:
            version = form_int("version")
            moved = set_label(project, slug, label, version, principal, role, expected,
                              allow_breaking=request.form.get("allow_breaking") == "1")
            if "request" in moved:  # a protected label that needs approval: nothing moved yet
                flash(f"Request #{moved['request']['id']} to point '{label}' at v{version} waits "
                      "for another admin's approval (Promotions).", "info")
                return redirect(target + "#labels")
            was = moved["previous"]
            note = f" (was v{was})" if was is not None and was != version else ""
            flash(f"Label '{label}' now points at v{version}{note}.", "success")
    except HttpError as exc:
        if exc.status not in (400, 403, 404, 409, 410):
            raise
        flash_error(exc)
    return redirect(target + "#labels")


@bp.get("/p/<p>/prompts/<path:slug>/-/diff")
def diff(p: str, slug: str) -> Any:
    """A unified diff between two versions or labels (default: previous and latest)."""
    access = project_role(p, "viewer")
    ref_from = request.args.get("from") or None
    ref_to = request.args.get("to") or None
    result = diff_versions(access.project, slug, ref_from, ref_to)
    versions, labels_by_version, _ = history(result.prompt_id)
    return render_template(
        "admin/diff.html", project=access.project, role=access.role, slug=slug,
        result=result.to_dict(), lines=diff_lines(result.text), versions=versions,
        labels_by_version=labels_by_version,
    )
