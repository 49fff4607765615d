"""Which cached prompts an event of the stream outdates (client/live.changed_slugs)."""

from __future__ import annotations

import json

import pytest

from promptsync.client.live import changed_slugs
from promptsync.client.sse import SseEvent


def event(action: str, slug: str | None, **details: object) -> SseEvent:
    data = {"id": 9, "action": action, "slug": slug, "actor": "key:1", "details": details}
    return SseEvent(action, json.dumps(data), "9")


@pytest.mark.parametrize(("given", "slugs"), [
    (event("version.created", "a/b", version=2), {"a/b"}),
    (event("label.moved", "a/b", label="production", version=1), {"a/b"}),
    (event("label.removed", "a/b", label="staging"), {"a/b"}),
    (event("prompt.archived", "a/b"), {"a/b"}),
    (event("prompt.restored", "a/b", version=3), {"a/b"}),
    (event("prompt.renamed", "new", **{"from": "old", "from_version": 2}), {"new", "old"}),
    (event("promotion.requested", "a/b", label="production"), set()),
    (event("key.created", None, name="ci"), set()),
    (event("project.imported", None), None),
    (SseEvent("label.moved", "not json", "3"), set()),
    (SseEvent("label.moved", '["a list"]', "3"), set()),
])
def test_changed_slugs(given: SseEvent, slugs: set[str] | None) -> None:
    assert changed_slugs(given) == slugs
