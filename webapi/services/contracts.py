"""Breaking changes (SPEC §13): what moving a protected label from one version to another breaks
for the apps that fetch it — a new required variable, a removed variable, a narrowed type or
enum, an output_schema that rejects what the old one accepted (where that can be decided)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from promptsync.format.contract import in_enum
from promptsync.format.templates import placeholder_names
from webapi.errors import HttpError
from webapi.extensions import db
from webapi.models import PromptVersion

Change = dict[str, Any]
# What a variable accepts, by declared type; undeclared takes text and numbers (as ever).
_ACCEPTS = {None: {"string", "integer", "number"}, "string": {"string"},
            "integer": {"integer"}, "number": {"integer", "number"}, "boolean": {"boolean"},
            "array": {"array"}, "object": {"object"}}
_SCHEMA_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}


def _contract(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A version's variables; without a variables block every placeholder is required."""
    declared = data.get("variables") or {}
    if declared:
        return dict(declared)
    texts = [data["template"]] if data.get("template") is not None else [
        m.get("content", "") for m in data.get("messages") or []]
    return {name: {"required": True} for text in texts for name in placeholder_names(text)}


def _change(kind: str, detail: str, **where: Any) -> Change:
    return {"kind": kind, **where, "detail": detail}


def variable_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """The ways the new version's variables refuse a render the old version's accepted."""
    before, after = _contract(old), _contract(new)
    changes = []
    for name in sorted(set(before) - set(after)):
        changes.append(_change("variable_removed", f"variable '{name}' was removed: a render "
                               "that passes it is refused as unknown", variable=name))
    for name, spec in sorted(after.items()):
        was = before.get(name)
        required = spec.get("required", True) and spec.get("default") is None
        if required and (was is None or not was.get("required", True)
                         or was.get("default") is not None):
            changes.append(_change("variable_required", f"variable '{name}' is now required: a "
                                   "render without it is refused", variable=name))
        if was is None:
            continue
        lost = _ACCEPTS[was.get("type")] - _ACCEPTS[spec.get("type")]
        if lost:
            changes.append(_change(
                "type_narrowed", f"variable '{name}' no longer takes {', '.join(sorted(lost))} "
                f"values (type {was.get('type') or 'undeclared'} -> {spec.get('type')})",
                variable=name))
        if spec.get("enum") is not None:
            dropped = [v for v in was["enum"] if not in_enum(v, spec["enum"])] \
                if was.get("enum") is not None else None
            if dropped is None or dropped:
                what = ("any value outside " + str(spec["enum"]) if dropped is None
                        else ", ".join(map(repr, dropped)))
                changes.append(_change("enum_narrowed", f"variable '{name}' no longer takes "
                                       f"{what}", variable=name))
    return changes


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    found = {declared} if isinstance(declared, str) else set(declared)
    return found | {"integer"} if "number" in found else found


def schema_changes(old: Any, new: Any, where: str = "") -> list[str]:
    """Decidable ways a schema rejects what an older one accepted ('' at the top, else a path);
    silent about what cannot be decided without a full containment check."""
    if not isinstance(new, Mapping) or new == old:
        return []  # no schema, or `true`: accepts everything the old one did
    at = f" at {where}" if where else ""
    if old is True or old is None or (isinstance(old, Mapping) and not old):
        return [f"a schema now constrains the answer{at}"] if old is not None else []
    if not isinstance(old, Mapping):
        return []  # old was `false`: it accepted nothing
    found = []
    old_types, new_types = _types(old), _types(new)
    if new_types is not None and (old_types is None or old_types - new_types):
        lost = sorted((old_types or _SCHEMA_TYPES) - new_types)
        found.append(f"type{at} no longer allows {', '.join(lost)}")
    if "enum" in new and ("enum" not in old or any(
            not in_enum(v, new["enum"]) for v in old["enum"])):
        found.append(f"enum{at} is narrower")
    added = sorted(set(new.get("required") or []) - set(old.get("required") or []))
    if added:
        found.append(f"{', '.join(added)} now required{at}")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        found.append(f"additional properties are no longer allowed{at}")
    old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
    for name in sorted(set(old_props) & set(new_props)):
        found += schema_changes(old_props[name], new_props[name], f"{where}/{name}")
    if isinstance(old.get("items"), Mapping) and isinstance(new.get("items"), Mapping):
        found += schema_changes(old["items"], new["items"], f"{where}/items")
    return found


def contract_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every breaking change from the old version's data to the new one's (empty: none)."""
    changes = variable_changes(old, new)
    for detail in schema_changes(old.get("output_schema"), new.get("output_schema")):
        changes.append(_change("output_schema_stricter", f"output_schema: {detail}"))
    return changes


def check_contract(prompt_id: int, slug: str, label: str, current: int | None,
                   target: PromptVersion, allow_breaking: bool) -> list[Change]:
    """The breaking changes of moving protected ``label`` from ``current`` to ``target``;
    409 contract_break listing them unless ``allow_breaking``."""
    if current is None or current == target.version:
        return []  # a new label breaks no app that fetches it today
    old = db.session.scalar(select(PromptVersion.data).where(
        PromptVersion.prompt_id == prompt_id, PromptVersion.version == current))
    changes = contract_changes(old or {}, target.data)
    if changes and not allow_breaking:
        raise HttpError(
            409, f"Moving '{label}' of '{slug}' from v{current} to v{target.version} breaks its "
            f"contract: {'; '.join(c['detail'] for c in changes)}. Pass allow_breaking to move "
            "it anyway.", "contract_break", changes=changes)
    return changes


def protected_breaks(prompt_id: int, labels: Mapping[str, int], protected: Iterable[str],
                     target: PromptVersion) -> dict[str, list[Change]]:
    """For the admin's label form: what moving each protected label here would break."""
    found = {}
    for label in sorted(set(protected) & set(labels)):
        if labels[label] != target.version:
            old = db.session.scalar(select(PromptVersion.data).where(
                PromptVersion.prompt_id == prompt_id, PromptVersion.version == labels[label]))
            changes = contract_changes(old or {}, target.data)
            if changes:
                found[label] = changes
    return found
