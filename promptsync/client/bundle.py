"""Export bundles: every prompt at one label, with hashes, for the SDK's offline fallback."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptsync.errors import BundleError
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


def write_bundle(
    path: str | Path,
    project: str | None,
    label: str | None,
    versions: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """Write a bundle of ``versions`` (API version or manifest dicts with source) atomically."""
    prompts: dict[str, dict[str, Any]] = {}
    for item in versions:
        slug, version, source = item.get("slug"), item.get("version"), item.get("source")
        if not isinstance(slug, str) or not isinstance(version, int) or not isinstance(source, str):
            raise BundleError(f"cannot bundle {slug or item!r}: slug, version and source needed")
        digest = source_sha256(source)
        if item.get("sha256") not in (None, digest):
            raise BundleError(f"{slug} v{version}: source does not match its sha256")
        prompts[slug] = {
            "version": version,
            "sha256": digest,
            "source": source,
            "labels": _label_names(item.get("labels"), version),
        }
    bundle = {
        "format": BUNDLE_FORMAT,
        "project": project,
        "label": label,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "prompts": dict(sorted(prompts.items())),
    }
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
    return data
