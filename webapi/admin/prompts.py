"""Admin pages for prompts: the list, one prompt (view, edit, history, labels), and diffs."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from promptsync.format.prompt import slug_problem
from webapi.admin.common import bp, flash_error, form_int, member_of
from webapi.admin.queries import (
    diff_lines,
    group_by_folder,
    history,
    label_map,
    pretty,
    prompt_rows,
)
from webapi.auth.principal import Principal, ProjectRef
from webapi.errors import HttpError
from webapi.models import PromptVersion
from webapi.services.labels import delete_label, set_label
from webapi.services.pushes import create_version
from webapi.services.versions import PROTECTED_LABELS, diff_versions, get_version

MAX_MESSAGE = 10_000


@bp.get("/p/<p>/")
def prompt_list(p: str) -> Any:
    """Every prompt of the project, grouped by folder, filtered by ?q=."""
    project, role, _ = member_of(p)
    q = request.args.get("q", "").strip()[:200]
    rows, more = prompt_rows(project, q)
    return render_template("admin/prompt_list.html", project=project, role=role, q=q,
                           groups=group_by_folder(rows), count=len(rows), more=more)


def _new_page(project: ProjectRef, role: str, status: int = 200, **form: Any) -> Any:
    context = {"slug": "", "source": "", "message": "", "slug_error": None, "exists": None,
               "save_error": None, "problems": None, **form}
    return render_template("admin/new_prompt.html", project=project, role=role,
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
    project, role, _ = member_of(p, "editor")
    return _new_page(project, role)


@bp.post("/p/<p>/new")
def create_prompt(p: str) -> Any:
    """Store version 1 of a new prompt through the API's push path; nothing saved on an error."""
    project, role, principal = member_of(p, "editor")
    slug = request.form.get("slug", "").strip()
    source = request.form.get("source", "").replace("\r\n", "\n")
    message = request.form.get("message", "").strip() or None
    kept = {"slug": slug, "source": source, "message": message or ""}
    slug_error = _slug_error(slug)
    if slug_error is not None:
        return _new_page(project, role, 400, slug_error=slug_error, **kept)
    message_error = _message_error(message)
    if message_error is not None:
        return _new_page(project, role, 400, save_error=message_error, **kept)
    return _create_first(project, role, principal, kept)


def _message_error(message: str | None) -> str | None:
    if message is None:
        return None
    if len(message) > MAX_MESSAGE:
        return "The message is longer than 10,000 characters."
    if "\x00" in message:  # Postgres refuses NUL in text: a clear error, not a 500
        return "The message contains a NUL character; remove it."
    return None


def _create_first(project: ProjectRef, role: str, principal: Principal,
                  kept: dict[str, Any]) -> Any:
    slug = kept["slug"]
    try:
        # parent_version=0: "new", so an existing prompt is a 409, never a silent version 2.
        status, version = create_version(project, slug, kept["source"], principal,
                                         kept["message"] or None, 0)
    except HttpError as exc:
        if exc.status == 409:
            return _new_page(project, role, 409, exists=exc.extra.get("latest_version"), **kept)
        if exc.status not in (400, 404, 422):
            raise
        return _new_page(project, role, exc.status, save_error=exc.detail,
                         problems=exc.extra.get("problems") or [], **kept)
    if status != 201:  # the same bytes as its latest version: it exists already
        return _new_page(project, role, 409, exists=version["version"], **kept)
    flash(f"Created {slug} as version 1.", "success")
    return redirect(url_for("admin.prompt_page", p=project.slug, slug=slug))


def curl_lines(project: ProjectRef, slug: str, number: int, labels: dict[str, int]) -> list[str]:
    """Ready-to-paste fetches; the key stays an environment variable, never a real one."""
    base = f"{request.url_root}api/v1/projects/{project.slug}/prompts/{slug}"
    lines = [f'curl -H "X-API-Key: $PROMPTSYNC_API_KEY" "{base}?version={number}"']
    for name, target in labels.items():
        if target == number:
            lines.append(f'curl -H "X-API-Key: $PROMPTSYNC_API_KEY" "{base}?label={name}"')
    return lines


def _page(project: ProjectRef, role: str, slug: str, shown: PromptVersion,
          status: int = 200, **form: Any) -> Any:
    """The prompt page for one version, optionally with a refused edit's text and errors."""
    versions, labels_by_version, more = history(shown.prompt_id)
    latest = versions[0].version
    labels = label_map(shown.prompt_id)
    context = {
        "project": project, "role": role, "slug": slug, "shown": shown, "data": shown.data,
        "latest": latest, "versions": versions, "labels_by_version": labels_by_version,
        "more_history": more, "labels": labels, "pretty": pretty,
        "protected": PROTECTED_LABELS, "curl": curl_lines(project, slug, shown.version, labels),
        "source": form.get("source", shown.source),
        "parent_version": form.get("parent_version", shown.version),
        "message": form.get("message", ""),
        "problems": form.get("problems"), "conflict": form.get("conflict"),
        "save_error": form.get("save_error"),
    }
    return render_template("admin/prompt.html", **context), status


@bp.get("/p/<p>/prompts/<path:slug>")
def prompt_page(p: str, slug: str) -> Any:
    """One version (?v=N, default latest): rendered, editable source, history and labels."""
    project, role, _ = member_of(p)
    raw = request.args.get("v", "")
    number = int(raw) if raw.isdigit() and len(raw) < 10 else None
    return _page(project, role, slug, get_version(project, slug, number))


@bp.post("/p/<p>/prompts/<path:slug>/-/save")
def save(p: str, slug: str) -> Any:
    """Store the edited source as a new version based on the version the form was loaded from."""
    project, role, principal = member_of(p, "editor")
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
        return _page(project, role, slug, get_version(project, slug, parent), 400,
                     save_error=message_error, **kept)
    try:
        status, version = create_version(project, slug, source, principal, message, base)
    except HttpError as exc:
        if exc.status not in (400, 409, 422):
            raise
        shown = get_version(project, slug, parent)
        if exc.status == 409:
            latest = exc.extra.get("latest_version")
            return _page(project, role, slug, shown, 409, conflict=latest, **kept)
        return _page(project, role, slug, shown, exc.status, save_error=exc.detail,
                     problems=exc.extra.get("problems") or [], **kept)
    if status == 201:
        flash(f"Saved {slug} as version {version['version']}.", "success")
    else:
        flash(f"No change: the source is identical to version {version['version']}.", "info")
    return redirect(url_for("admin.prompt_page", p=p, slug=slug))


@bp.post("/p/<p>/prompts/<path:slug>/-/labels")
def move_label(p: str, slug: str) -> Any:
    """Point a label at a version (promotion or rollback), or remove it."""
    project, role, principal = member_of(p, "editor")
    label = request.form.get("label", "").strip().lower()
    expected_raw = request.form.get("expected_version", "")
    expected = int(expected_raw) if expected_raw.isdigit() and len(expected_raw) < 10 else None
    back = request.form.get("back_version", "")
    target = url_for("admin.prompt_page", p=p, slug=slug, v=back if back.isdigit() else None)
    try:
        if request.form.get("action") == "remove":
            delete_label(project, slug, label, principal, role, expected)
            flash(f"Removed label '{label}'.", "success")
        else:
            version = form_int("version")
            moved = set_label(project, slug, label, version, principal, role, expected)
            was = moved["previous"]
            note = f" (was v{was})" if was is not None and was != version else ""
            flash(f"Label '{label}' now points at v{version}{note}.", "success")
    except HttpError as exc:
        if exc.status not in (400, 403, 404, 409):
            raise
        flash_error(exc)
    return redirect(target + "#labels")


@bp.get("/p/<p>/prompts/<path:slug>/-/diff")
def diff(p: str, slug: str) -> Any:
    """A unified diff between two versions or labels (default: previous and latest)."""
    project, role, _ = member_of(p)
    ref_from = request.args.get("from") or None
    ref_to = request.args.get("to") or None
    if ref_to is not None and ref_to.isdigit() and int(ref_to) == 0:
        # diff_versions answers 500 for to=0 (a KeyError); reported to the API's owner.
        raise HttpError(404, f"'{slug}' has no version 0.")
    result = diff_versions(project, slug, ref_from, ref_to)
    latest = get_version(project, slug)
    versions, labels_by_version, _ = history(latest.prompt_id)
    return render_template(
        "admin/diff.html", project=project, role=role, slug=slug, result=result,
        lines=diff_lines(result["diff"]), versions=versions, labels_by_version=labels_by_version,
    )
