"""The release side of a project export (SPEC §11): each label's history, the release settings
and the promotion requests, in the API's own JSON shapes; optional in a document (older exports
have none of them), checked before an import writes anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select

from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import LabelMove, ProjectSettings, Promotion, User
from webapi.services import backup_fields as check
from webapi.services.promotions import PENDING, STALE, STATES, request_dict
from webapi.services.protection import (
    MAX_APPROVALS,
    ReleaseSettings,
    parse_settings,
    release_settings,
)
from webapi.services.versions import LABEL_RE


@dataclass
class Releases:
    """What an import restores of the releases: rows ready to insert but for the prompt ids."""

    moves: list[dict[str, Any]] = field(default_factory=list)
    settings: ReleaseSettings | None = None
    promotions: list[dict[str, Any]] = field(default_factory=list)


def export_releases(project_id: int, slugs: Mapping[int, str]) -> dict[str, Any]:
    """label_history (oldest first), settings and promotions (oldest first) of the prompts
    ``slugs`` names by id."""
    ids = list(slugs)
    moves = db.session.scalars(select(LabelMove).where(LabelMove.prompt_id.in_(ids))
                               .order_by(LabelMove.id))
    requests = db.session.scalars(select(Promotion).where(
        Promotion.project_id == project_id, Promotion.prompt_id.in_(ids)).order_by(Promotion.id))
    return {
        "label_history": [{"slug": slugs[m.prompt_id], "label": m.label, **m.to_dict()}
                          for m in moves],
        "settings": release_settings(project_id).to_dict(),
        "promotions": [request_dict(row, slugs[row.prompt_id]) for row in requests],
    }


def _label(value: object, where: str) -> str:
    if not isinstance(value, str) or not LABEL_RE.match(value):
        raise check.bad(where, "label must be a label name")
    return value


def _prompt_rows(given: object, name: str, shas: Mapping[str, Sequence[str]]
                 ) -> Iterator[tuple[str, Mapping[str, Any], str, int]]:
    """Each object of the list ``name``: where it is, itself, its slug (one of the document's
    prompts) and that prompt's latest version."""
    for index, item in enumerate(check.listed(given, name)):
        where = f"{name}[{index}]"
        slug = item.get("slug")
        if not isinstance(slug, str) or slug not in shas:
            raise check.bad(where, "slug must name one of the document's prompts")
        yield where, item, slug, len(shas[slug])


def _moves(given: object, shas: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    rows = []
    for where, item, slug, latest in _prompt_rows(given, "label_history", shas):
        rows.append({
            "slug": slug, "label": _label(item.get("label"), where),
            "from_version": check.number(item.get("from_version"), where, "from_version", 1,
                                         latest, optional=True),
            "to_version": check.number(item.get("to_version"), where, "to_version", 1, latest,
                                       optional=True),
            "actor": check.text(item.get("actor"), where, "actor", 300),
            "reason": check.text(item.get("reason"), where, "reason", 300, optional=True),
            "created_at": check.time(item.get("at"), where, "at"),
        })
    return rows


def _settings(given: object) -> ReleaseSettings | None:
    if given is None:
        return None
    if not isinstance(given, dict):
        raise check.bad("settings", "must be an object")
    try:  # the rules of PUT /settings, from the defaults: a field left out keeps its default
        return parse_settings(given, ReleaseSettings())
    except HttpError as exc:
        raise check.bad("settings", exc.detail.rstrip(".")) from None


def _approvals(given: object, where: str) -> list[dict[str, Any]]:
    approvals = []
    for index, item in enumerate(check.listed(given, f"{where} approvals")):
        at = check.time(item.get("at"), f"{where} approval {index + 1}", "at")
        assert at is not None
        approvals.append({"by": check.text(item.get("by"), where, "approval by", 300),
                          "at": at.isoformat(timespec="milliseconds") + "Z"})
    return approvals


def _promotions(given: object, shas: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    rows = []
    for where, item, slug, latest in _prompt_rows(given, "promotions", shas):
        version = check.number(item.get("version"), where, "version", 1, latest, optional=True)
        # A request is bound to the content it named: the sha256 of that very version.
        sha = shas[slug][version - 1] if version is not None else None
        if item.get("sha256") != sha:
            raise check.bad(where, "sha256 must be the hash of the version it names")
        state = item.get("state")
        if state not in STATES:
            raise check.bad(where, f"state must be one of {', '.join(STATES)}")
        rows.append({
            "slug": slug, "label": _label(item.get("label"), where), "version": version,
            "sha256": sha, "state": state,
            "from_version": check.number(item.get("from_version"), where, "from_version", 1,
                                         latest, optional=True),
            "requested_by": check.text(item.get("requested_by"), where, "requested_by", 300),
            "approvals_required": check.number(item.get("approvals_required"), where,
                                               "approvals_required", 0, MAX_APPROVALS),
            "approvals": _approvals(item.get("approvals"), where),
            "decided_by": check.text(item.get("decided_by"), where, "decided_by", 300,
                                     optional=True),
            "decided_at": check.time(item.get("decided_at"), where, "decided_at", True),
            "created_at": check.time(item.get("created_at"), where),
        })
    return rows


def parse_releases(document: Mapping[str, Any], shas: Mapping[str, Sequence[str]]) -> Releases:
    """The document's release parts, checked; shas: each prompt's version hashes in order."""
    return Releases(_moves(document.get("label_history"), shas),
                    _settings(document.get("settings")),
                    _promotions(document.get("promotions"), shas))


def _email(actor: str) -> str:
    """The person behind an actor ("ann@example.com" or "ann@example.com (key psk_…)")."""
    return actor.partition(" (key ")[0].strip().lower()


def _accounts(emails: set[str]) -> dict[str, int]:
    if not emails:
        return {}
    rows = db.session.execute(select(func.lower(User.email), User.id)
                              .where(func.lower(User.email).in_(emails)))
    return {email: user_id for email, user_id in rows}


def import_releases(project_id: int, releases: Releases, prompt_ids: Mapping[str, int],
                    actor: str, now: dt.datetime) -> dict[str, int]:
    """Write the releases in the import's transaction; what was written, counted."""
    if releases.moves:
        db.session.execute(insert(LabelMove.__table__), [
            {k: v for k, v in move.items() if k != "slug"} | {"prompt_id": prompt_ids[
                move["slug"]]} for move in releases.moves])
    if releases.settings is not None:
        row = db.session.get(ProjectSettings, project_id) or ProjectSettings(
            project_id=project_id)
        db.session.add(row)
        row.protected_labels = list(releases.settings.protected_labels)
        row.approvals_required = releases.settings.approvals_required
        row.protected_requires_clean_commit = releases.settings.protected_requires_clean_commit
        row.protected_branches = list(releases.settings.protected_branches)
        row.updated_by, row.updated_at = actor, now
    if releases.promotions:
        db.session.execute(insert(Promotion.__table__), _promotion_rows(
            project_id, releases.promotions, prompt_ids, actor, now))
    return {"label_history": len(releases.moves), "promotions": len(releases.promotions)}


def _promotion_rows(project_id: int, promotions: list[dict[str, Any]],
                    prompt_ids: Mapping[str, int], actor: str, now: dt.datetime
                    ) -> list[dict[str, Any]]:
    # "Never the requester, never twice the same admin" is checked by account id: the people
    # of a request are found here by email. A pending request naming someone without an
    # account on this server could be approved by that very person once they sign up, so it
    # comes in stale (open it again), never pending with a rule it cannot keep.
    people = {_email(p["requested_by"]) for p in promotions} | {
        _email(a["by"]) for p in promotions for a in p["approvals"]}
    accounts = _accounts(people)
    rows = []
    for item in promotions:
        row = {k: v for k, v in item.items() if k != "slug"}
        requester = accounts.get(_email(item["requested_by"]))
        approvers = [accounts.get(_email(a["by"])) for a in item["approvals"]]
        row["approvals"] = [{**a, "user_id": uid if uid is not None else 0}
                            for a, uid in zip(item["approvals"], approvers, strict=True)]
        row["requested_by_user_id"] = requester if requester is not None else 0
        if item["state"] == PENDING and (requester is None or None in approvers):
            row.update(state=STALE, decided_by=actor, decided_at=now)
        rows.append({**row, "project_id": project_id, "prompt_id": prompt_ids[item["slug"]]})
    return rows
