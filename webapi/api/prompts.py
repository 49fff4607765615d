"""Prompts: the manifest, batch push, and one prompt's versions, diff, labels and render (its
archive and restore in api.lifecycle)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy import select

from promptsync.errors import RenderError
from promptsync.format.partials import has_includes
from promptsync.format.prompt import parse_prompt
from promptsync.protocol import BATCH_LIMIT
from webapi.api.inputs import body_as, json_body
from webapi.api.lifecycle import archive, restore
from webapi.api.releases import label_history
from webapi.auth.principal import ProjectRef
from webapi.auth.roles import key_project_slug, project_role
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.fetch.answer import fetch_response, key_fetch_response
from webapi.fetch.lookup import fetch_version
from webapi.fetch.request import etag_matches
from webapi.http_edges import allow, options_response
from webapi.models import Label, PromptVersion, iso
from webapi.paging import cursor_arg, encode_cursor, int_arg, int_cursor_arg, limit_arg
from webapi.services.catalog import Listed, list_prompts
from webapi.services.labels import delete_label, set_label
from webapi.services.pages import newest_page
from webapi.services.partials import dependent_uses, expand_stored
from webapi.services.provenance import check_git
from webapi.services.pushes import PushItem, PushOutcome
from webapi.services.renames import push_items, push_one
from webapi.services.versions import (
    diff_versions,
    find_prompt_id,
    get_version,
    version_dict,
)
from webapi.shapes.bodies import Batch, BatchItem, LabelMove, Push, Render
from webapi.shapes.refusal import misspelt, refusal, validated

bp = Blueprint("prompts", __name__)


def _manifest(project: ProjectRef) -> Any:
    include = request.args.get("include", "").split(",")
    with_source = "source" in include
    listed = Listed.ALL if "archived" in include else Listed.LIVE
    page, more = list_prompts(project, limit_arg(), cursor_arg(), with_source=with_source,
                              listed=listed)
    prompts = []
    for p in page:
        item: dict[str, Any] = {"slug": p.slug, "version": p.version, "sha256": p.sha256,
                                "labels": p.labels, "updated_at": iso(p.updated_at),
                                "author": p.author, "archived_at": iso(p.archived_at)}
        if with_source:
            item["source"] = p.source
        prompts.append(item)
    return jsonify(prompts=prompts, next=encode_cursor(page[-1].slug) if more else None)


def _batch(project: ProjectRef) -> Any:
    access = project_role(project.slug, "editor")
    project, principal = access.project, access.principal
    body = json_body()
    items: Any = body.get("prompts")
    if isinstance(items, list) and len(items) > BATCH_LIMIT:
        raise HttpError(413, f"At most {BATCH_LIMIT} prompts per batch; split the push.")
    try:
        # A near-miss key (parent_verion) is refused in its item's result, as any wrong field.
        judged: list[BatchItem | HttpError] = [
            misspelt(item, raw) or item
            for item, raw in zip(Batch.model_validate(body).prompts, items, strict=True)]
    except ValidationError as exc:
        # Each item is judged alone: one bad file never blocks the others; a body that is
        # not a list of objects with a slug is refused whole.
        if not isinstance(items, list) or any(len(error["loc"]) < 2 for error in exc.errors()):
            raise refusal(exc) from None
        judged = [_judged(item) for item in items]
    results: list[dict[str, Any] | None] = [None] * len(judged)
    accepted: list[tuple[int, PushItem]] = []
    for index, item in enumerate(judged):
        if isinstance(item, HttpError):
            results[index] = _result(PushOutcome(items[index]["slug"], "error", error=item))
            continue
        try:
            accepted.append((index, _push_item(item.slug, item)))
        except HttpError as exc:
            results[index] = _result(PushOutcome(item.slug, "error", error=exc))
    outcomes = push_items(project, principal, [item for _, item in accepted])
    for (index, _), outcome in zip(accepted, outcomes, strict=True):
        results[index] = _result(outcome)
    return jsonify(results=results)


def _result(outcome: PushOutcome) -> dict[str, Any]:
    if outcome.error is not None:
        error = outcome.error
        return {"slug": outcome.slug, "status": outcome.status, "error": error.code,
                "detail": error.detail, **error.extra}
    assert outcome.version is not None
    return {"slug": outcome.slug, "status": outcome.status,
            "version": outcome.version["version"], "sha256": outcome.version["sha256"],
            "renamed_from": outcome.version["renamed_from"]}


def _judged(item: Any) -> BatchItem | HttpError:
    """One item of a batch as its shape, or the 400 it earns (the whole batch's, when it has
    no slug to report it under)."""
    if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
        raise HttpError(400, "Each item of 'prompts' needs a 'slug' string and a 'source'.",
                        field="prompts")
    try:
        return validated(BatchItem, item)
    except HttpError as exc:
        return exc


def _push_item(slug: str, body: Push) -> PushItem:
    if body.renamed_from_version is not None and body.renamed_from is None:
        raise HttpError(400, "'renamed_from_version' goes with 'renamed_from'.",
                        field="renamed_from_version")
    # Only the keys sent: the version keeps the git object as it came (null fields included).
    git = None if body.git is None else body.git.model_dump(exclude_unset=True)
    return PushItem(slug, body.source, body.message, body.parent_version, git,
                    body.renamed_from, body.renamed_from_version)


def _fetch(project: ProjectRef, slug: str) -> Response:
    # The general path (sessions, and every error of a key fetch); a plain key fetch is
    # answered before the caller is resolved, by key_fetch_response or by the middleware.
    version = int_arg("version", 1)
    label = request.args.get("label")
    if version is not None and label is not None:
        raise HttpError(400, "Pass either 'version' or 'label', not both.")
    # One query (labels included); a revalidation reads only the hash first.
    if_none_match = request.headers.get("If-None-Match")
    found = fetch_version(project, slug, version, label, full=if_none_match is None)
    pinned = version is not None
    if if_none_match is not None and etag_matches(if_none_match, found.tag):
        return fetch_response(project.slug, slug, found, pinned, not_modified=True)
    if not found.full:
        found = fetch_version(project, slug, version, label)
    return fetch_response(project.slug, slug, found, pinned)


def _push(project: ProjectRef, slug: str) -> Any:
    access = project_role(project.slug, "editor")
    project, principal = access.project, access.principal
    item = _push_item(slug, body_as(Push))
    status, version = push_one(project, principal, item)
    return jsonify(version), status


def _versions(project: ProjectRef, slug: str) -> Any:
    prompt_id = find_prompt_id(project, slug)
    limit = limit_arg()
    before = int_cursor_arg()
    query = select(PromptVersion).where(PromptVersion.prompt_id == prompt_id)
    rows, more = newest_page(query, PromptVersion.version, limit, before)
    labels: dict[int, list[str]] = defaultdict(list)
    for name, number in db.session.execute(
        select(Label.name, Label.version).where(Label.prompt_id == prompt_id).order_by(Label.name)
    ):
        labels[number].append(name)
    return jsonify(
        versions=[version_dict(project.slug, slug, v, labels[v.version]) for v in rows],
        next=encode_cursor(rows[-1].version) if more else None,
    )


def _render(project: ProjectRef, slug: str) -> Any:
    body = body_as(Render)
    # Any JSON value: each is judged against its variable's declared type (a 422 naming all).
    variables, version, label = body.variables or {}, body.version, body.label
    if version is not None and label is not None:
        raise HttpError(400, "Pass either 'version' or 'label', not both.")
    found = get_version(project, slug, version, label)
    prompt = parse_prompt(found.source.encode("utf-8"), path=slug)
    if has_includes(found.source):  # partials, resolved now (SPEC §13): latest, label, version
        prompt = expand_stored(project, slug, prompt.to_dict(), label).prompt
    try:
        rendered = prompt.render(variables)
    except RenderError as exc:
        detail = str(exc)
        raise HttpError(422, detail[:1].upper() + detail[1:] + ".", "invalid_variables",
                        missing=exc.missing, unknown=exc.unknown, invalid=exc.invalid) from None
    key = "text" if isinstance(rendered, str) else "messages"
    return jsonify({key: rendered, "version": found.version})


def _dependents(project: ProjectRef, slug: str) -> Any:
    find_prompt_id(project, slug)  # a 404 for a prompt that does not exist
    return jsonify(dependents=dependent_uses(project, slug))  # [{slug, via: [{ref, version}]}]


def _label(project: ProjectRef, slug: str, label: str) -> Any:
    access = project_role(project.slug, "editor")
    project, role, principal = access.project, access.role, access.principal
    if request.method == "DELETE":
        expected = int_arg("expected_version", 0)
        opened = delete_label(project, slug, label, principal, role, expected)
        return (jsonify(opened), 202) if opened is not None else ("", 204)
    body = body_as(LabelMove)
    git = None if body.git is None else check_git(body.git.model_dump(exclude_unset=True))
    if git is not None and body.sha256 is None:
        raise HttpError(400, "'sha256' must come with 'git': the hash of the file it describes.",
                        field="sha256")
    moved = set_label(project, slug, label, body.version, principal, role,
                      body.expected_version, body.reason, bool(body.allow_breaking), git,
                      body.sha256)
    # A protected label that needs approval did not move: a promotion request was opened.
    return jsonify(moved), 202 if "request" in moved else 200


def _diff(project: ProjectRef, slug: str) -> Any:
    diff = diff_versions(project, slug, request.args.get("from"), request.args.get("to"))
    return jsonify(diff.to_dict())


# What lives below a prompt, dispatched by hand because a slug may itself contain "/".
SUB_RESOURCES: dict[str, dict[str, Callable[..., Any]]] = {
    "": {"GET": _fetch, "POST": _push, "DELETE": archive},
    "restore": {"POST": restore},
    "versions": {"GET": _versions},
    "diff": {"GET": _diff},
    "render": {"POST": _render},
    "dependents": {"GET": _dependents},
    "labels/{}": {"PUT": _label, "DELETE": _label},
    "labels/{}/history": {"GET": label_history},
}


def _dispatch(p: str | None, rest: str) -> Any:
    # p None: the key's own project (the /prompts shorthand), resolved after OPTIONS and 405.
    slug, _, sub = rest.partition("/-/")
    args: tuple[str, ...] = ()
    kind, _, label = sub.partition("/")
    if kind == "labels" and label and "/" not in label:
        sub, args = "labels/{}", (label,)
    elif kind == "labels" and label.count("/") == 1 and label.endswith("/history"):
        sub, args = "labels/{}/history", (label.removesuffix("/history"),)
    allowed = SUB_RESOURCES.get(sub)
    if allowed is None:
        raise HttpError(404, "No such resource.")
    if request.method == "OPTIONS":  # what this sub-resource answers, before any credentials
        return options_response(allowed)
    handler = allowed.get(request.method)
    if handler is None:
        error = HttpError(405, f"Method {request.method} is not allowed here.")
        error.headers["Allow"] = ", ".join(allow(allowed))
        raise error
    if handler is _fetch and (fast := key_fetch_response()) is not None:
        return fast
    project = project_role(key_project_slug() if p is None else p, "viewer").project
    return handler(project, slug, *args)


# OPTIONS is answered by _dispatch, per sub-resource, not by Flask for the whole rule.
ITEM_METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]


@bp.route("/projects/<p>/prompts/<path:rest>", methods=ITEM_METHODS)
def prompt_item(p: str, rest: str) -> Any:
    return _dispatch(p, rest)


@bp.route("/prompts/<path:rest>", methods=ITEM_METHODS)
def key_prompt_item(rest: str) -> Any:
    slug, _, sub = rest.partition("/-/")
    if not sub and request.method == "GET" and (fast := key_fetch_response()) is not None:
        return fast  # the key's own project, read in the same statement
    return _dispatch(None, rest)


@bp.route("/projects/<p>/prompts", methods=["GET", "POST"])
def prompt_collection(p: str) -> Any:
    project = project_role(p, "viewer").project
    return _manifest(project) if request.method == "GET" else _batch(project)


@bp.route("/prompts", methods=["GET", "POST"])
def key_prompt_collection() -> Any:
    return prompt_collection(key_project_slug())
