"""A save the server refused is sent again only when the server's answer could change: bytes
judged invalid on their own (422, no include) are not uploaded again until they change, while a
refusal that depends on what the server holds (a missing include, a conflict) is retried."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.live import prompt_source
from tests.support.watch_rig import Rig
from webapi.errors import HttpError
from webapi.services import pushes
from webapi.services.versions import validate_source

FIRST = prompt_source("Hello {{ name }}.")
# Valid for this CLI's parser; the "newer server" below refuses it.
HOWDY = prompt_source("Howdy {{ name }}.")
FIXED = prompt_source("Hi {{ name }}.")
# Valid for the parser; the server refuses it while nowhere/here is missing (422).
MISSING_INCLUDE = prompt_source("Hi {{ name }} {{> nowhere/here }}")


@pytest.fixture
def newer_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server is newer than this CLI: its validator refuses what the CLI's accepts."""
    def stricter(source: object, slug: str) -> Any:
        if isinstance(source, str) and "Howdy" in source:
            raise HttpError(422, "The source is not a valid prompt (line 4): say Hello",
                            "invalid_prompt",
                            problems=[{"message": "say Hello", "line": 4, "column": 3}])
        return validate_source(source, slug)

    monkeypatch.setattr(pushes, "validate_source", stricter)


def _posts(rig: Rig) -> int:
    return len(rig.transport.posts)


def test_bytes_the_server_judged_invalid_are_not_sent_again(rig: Rig, newer_server: None
                                                            ) -> None:
    rig.save("a", FIRST)
    rig.save("a", HOWDY)
    refused = ["prompts/a.yaml:4:3: say Hello"]
    assert rig.lines == ["a: pushed v1", *refused]
    sent = _posts(rig)
    rig.save("a", HOWDY)  # the editor saves again without a change
    rig.path("a").touch()
    rig.deliver("a")
    rig.daemon.on_rescan()
    rig.daemon.step()
    assert _posts(rig) == sent  # nothing went out
    assert rig.lines == ["a: pushed v1", *refused]  # and the report stays the one made
    rig.save("a", FIXED)  # other bytes go up
    assert rig.lines[-1] == "a: pushed v2" and _posts(rig) == sent + 1
    rig.save("a", HOWDY)  # they changed: the old bytes back are judged (and said) again
    assert rig.lines[-1:] == refused and _posts(rig) == sent + 2
    assert [v["version"] for v in rig.admin.versions(rig.project, "a")] == [2, 1]


def test_a_refusal_that_depends_on_the_server_is_tried_again(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.save("a", MISSING_INCLUDE)
    assert "nowhere/here" in rig.lines[-1]
    sent = _posts(rig)
    rig.admin.push(rig.project, "nowhere/here", prompt_source("there, {{ name }}"))
    rig.save("a", MISSING_INCLUDE)  # the same bytes: the server now has what they include
    assert _posts(rig) == sent + 1
    assert rig.lines[-1] == "a: pushed v2"

