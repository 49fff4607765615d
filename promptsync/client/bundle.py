"""Export bundles: every prompt at one label, with hashes, for the SDK's offline fallback.

A prompt that includes partials (SPEC §13) carries ``includes`` ([{slug, ref, version}], as the
server resolved them when the bundle was exported), and the bundle's ``partials`` hold the
source of each version they name, so an offline render gives the server's text."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptsync.client.version import PromptVersion
from promptsync.errors import BundleError, PromptSyncError
from promptsync.format.prompt import source_sha256
from promptsync.fsutil import atomic_write

BUNDLE_FORMAT = "promptsync-bundle/1"


def _label_names(labels: Any, version: int) -> list[str]:
    """Label names on ``version``, from a version's list or a manifest's {label: version} map."""
    if isinstance(labels, Mapping):
        return sorted(str(name) for name, v in labels.items() if v == version)
    if isinstance(labels, Iterable) and not isinstance(labels, str | bytes):
        return sorted(str(name) for name in labels)
    return []


def _checked(item: Mapping[str, Any]) -> tuple[str, int, str, str]:
    """slug, version, source and its sha256 of a version dict; BundleError when it lacks one
    or its hash does not match."""
    slug, version, source = item.get("slug"), item.get("version"), item.get("source")
    if not isinstance(slug, str) or not isinstance(version, int) or not isinstance(source, str):
        raise BundleError(f"cannot bundle {slug or item!r}: slug, version and source needed")
    digest = source_sha256(source)
    if item.get("sha256") not in (None, digest):
        raise BundleError(f"{slug} v{version}: source does not match its sha256")
    return slug, version, source, digest


def write_bundle(
    path: str | Path,
    project: str | None,
    label: str | None,
    versions: Iterable[Mapping[str, Any]],
    partials: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Write a bundle of ``versions`` (API version or manifest dicts with source) atomically;
    ``partials``: the versions their ``includes`` name (API version dicts)."""
    prompts: dict[str, dict[str, Any]] = {}
    for item in versions:
        slug, version, source, digest = _checked(item)
        prompts[slug] = {
            "version": version,
            "sha256": digest,
            "source": source,
            "labels": _label_names(item.get("labels"), version),
        }
        if item.get("includes"):
            prompts[slug]["includes"] = [{"slug": i["slug"], "ref": i["ref"],
                                          "version": i["version"]} for i in item["includes"]]
    included: dict[tuple[str, int], dict[str, Any]] = {}
    for item in partials:
        slug, version, source, digest = _checked(item)
        included[(slug, version)] = {"slug": slug, "version": version, "sha256": digest,
                                     "source": source}
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "project": project,
        "label": label,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "prompts": dict(sorted(prompts.items())),
    }
    if included:
        bundle["partials"] = [included[key] for key in sorted(included)]
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    atomic_write(Path(path), text.encode("utf-8"))
    return bundle


def load_bundle(path: str | Path) -> dict[str, Any]:
    """Read and verify a bundle; raise BundleError if it is missing, malformed or tampered with."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BundleError(f"bundle {path} does not exist") from None
    except (OSError, ValueError) as exc:  # ValueError covers bad JSON and bad UTF-8
        raise BundleError(f"bundle {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise BundleError(f"bundle {path}: expected format {BUNDLE_FORMAT!r}, found {found!r}")
    prompts = data.get("prompts")
    if not isinstance(prompts, dict):
        raise BundleError(f"bundle {path}: 'prompts' must be an object")
    for slug, entry in prompts.items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("version"), int)
            or not isinstance(entry.get("source"), str)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("labels", []), list)
        ):
            raise BundleError(f"bundle {path}: entry {slug!r} is malformed")
        if source_sha256(entry["source"]) != entry["sha256"]:
            raise BundleError(
                f"bundle {path}: {slug} v{entry['version']} does not match its sha256 "
                "(corrupt or edited); export it again"
            )
        entry.setdefault("labels", [])
        if not _includes_ok(entry.get("includes", [])):
            raise BundleError(f"bundle {path}: entry {slug!r} has malformed includes")
    partials = data.setdefault("partials", [])
    if not isinstance(partials, list):
        raise BundleError(f"bundle {path}: 'partials' must be a list")
    for item in partials:
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str) \
                or not isinstance(item.get("version"), int) \
                or not isinstance(item.get("source"), str) \
                or source_sha256(item["source"]) != item.get("sha256"):
            raise BundleError(f"bundle {path}: a partial does not match its sha256 (corrupt "
                              "or edited); export it again")
    return data


def _includes_ok(includes: object) -> bool:
    return isinstance(includes, list) and all(
        isinstance(i, dict) and isinstance(i.get("slug"), str) and isinstance(i.get("ref"), str)
        and isinstance(i.get("version"), int) for i in includes)


def with_bundled_includes(copy: PromptVersion, bundle: Mapping[str, Any], label: str | None
                          ) -> PromptVersion:
    """A bundle's copy with its partials expanded from the bundle, as the server resolved them
    at export (label: the one it is served for); unchanged, so its render refuses, when the
    bundle does not hold them (one written before bundles carried partials)."""
    includes = (bundle["prompts"].get(copy.slug) or {}).get("includes")
    if not copy.unresolved or not includes:
        return copy
    sources = {(p["slug"], p["version"]): p for p in bundle.get("partials", [])}

    def fetch(slug: str, number: int) -> PromptVersion:
        found = sources.get((slug, number))
        if found is None:
            raise PromptSyncError(f"the bundle lacks {slug} v{number}")
        return PromptVersion.from_source(slug, number, found["sha256"], [], found["source"])

    try:
        return copy.with_includes(includes, label, fetch)
    except PromptSyncError:
        return copy
