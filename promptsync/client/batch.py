"""The batch push on the wire: items grouped into requests, and each item's answer read once.

``ApiClient.push_batch`` sends with ``batch_chunks`` and hands back ``BatchAnswer`` values, which
`push` (sync.push) and `watch` (watch.outbox) turn into their own reports. Pure: no HTTP here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from promptsync.errors import ApiError, Problem
from promptsync.protocol import BATCH_LIMIT, PushOutcome

# Below the server's default MAX_CONTENT_LENGTH (8 MiB), with room for a proxy's smaller limit.
BATCH_MAX_BYTES = 4 * 1024 * 1024
_ANSWERED = frozenset({PushOutcome.CREATED, PushOutcome.UNCHANGED, PushOutcome.CONFLICT,
                       PushOutcome.INVALID, PushOutcome.ERROR})


def batch_chunks(encoded: list[bytes]) -> Iterator[list[int]]:
    """Group item indexes so each request holds ≤ BATCH_LIMIT items and ≤ 4 MiB of body."""
    overhead = len(b'{"prompts":[]}')
    chunk: list[int] = []
    size = overhead
    for index, item in enumerate(encoded):
        extra = len(item) + (1 if chunk else 0)  # the comma between items
        if chunk and (len(chunk) >= BATCH_LIMIT or size + extra > BATCH_MAX_BYTES):
            yield chunk
            chunk, size, extra = [], overhead, len(item)
        # An item too big on its own is still sent alone: the server's 413 says why.
        chunk.append(index)
        size += extra
    if chunk:
        yield chunk


@dataclass(frozen=True)
class BatchAnswer:
    """The server's answer for one item of a batch push."""

    slug: str
    outcome: PushOutcome
    version: int | None = None  # the stored (or unchanged latest) version
    latest_version: int | None = None  # on a conflict: where the server is
    problems: tuple[Problem, ...] = ()  # when invalid
    detail: str = ""  # why it was refused
    code: str = ""  # the error code of a refusal ("conflict", "protected_label", ...)


def _problems(answer: Mapping[str, Any]) -> tuple[Problem, ...]:
    listed = tuple(
        Problem(str(p.get("message")), p.get("line"), p.get("column"))
        for p in answer.get("problems") or [] if isinstance(p, dict)
    )
    return listed or (Problem(str(answer.get("detail", "invalid prompt"))),)


def parse_answer(answer: Mapping[str, Any], status: int = 200) -> BatchAnswer:
    """Read one item of a batch answer; an unknown status is an ERROR saying what came."""
    slug = str(answer.get("slug", ""))
    code = str(answer.get("error") or "")
    status_text = answer.get("status")
    outcome = PushOutcome(status_text) if status_text in _ANSWERED else None
    if outcome in (PushOutcome.CREATED, PushOutcome.UNCHANGED):
        try:
            version = int(answer["version"])
        except (KeyError, TypeError, ValueError):
            raise ApiError(status, "bad_response",
                           f"batch push: no version in the answer for {slug!r}") from None
        return BatchAnswer(slug, outcome, version=version)
    if outcome == PushOutcome.CONFLICT:
        latest = answer.get("latest_version")
        return BatchAnswer(slug, outcome, detail=str(answer.get("detail", "")),
                           latest_version=latest if isinstance(latest, int) else None,
                           code=code)
    if outcome == PushOutcome.INVALID:
        return BatchAnswer(slug, outcome, problems=_problems(answer))
    return BatchAnswer(slug, PushOutcome.ERROR, code=code,
                       detail=str(answer.get("detail") or f"unexpected result {dict(answer)!r}"))


def parse_results(data: Mapping[str, Any], expected: int, where: str,
                  status: int = 200) -> list[BatchAnswer]:
    """Every item's answer from one batch response ``{"results": [...]}``, in request order."""
    results = data.get("results")
    if not isinstance(results, list) or len(results) != expected:
        raise ApiError(status, "bad_response",
                       f"batch push: expected {expected} results from {where}")
    return [parse_answer(item if isinstance(item, dict) else {"detail": repr(item)}, status)
            for item in results]
