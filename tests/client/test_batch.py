"""Tests for promptsync.client.batch: each item of a batch answer read into one BatchAnswer."""

from __future__ import annotations

import pytest

from promptsync.client.batch import BatchAnswer, parse_answer, parse_results
from promptsync.errors import ApiError, Problem
from promptsync.protocol import PushOutcome


@pytest.mark.parametrize(("answer", "expected"), [
    ({"slug": "a", "status": "created", "version": 3, "sha256": "x"},
     BatchAnswer("a", PushOutcome.CREATED, version=3)),
    ({"slug": "a", "status": "unchanged", "version": "2"},
     BatchAnswer("a", PushOutcome.UNCHANGED, version=2)),
    ({"slug": "a", "status": "conflict", "error": "conflict", "detail": "v3 is not the latest",
      "latest_version": 4},
     BatchAnswer("a", PushOutcome.CONFLICT, latest_version=4, detail="v3 is not the latest",
                 code="conflict")),
    ({"slug": "a", "status": "invalid", "detail": "bad", "problems": [
        {"message": "unknown key 'x'", "line": 2, "column": 1}, "not a problem"]},
     BatchAnswer("a", PushOutcome.INVALID, problems=(Problem("unknown key 'x'", 2, 1),))),
    ({"slug": "a", "status": "invalid", "detail": "too large"},
     BatchAnswer("a", PushOutcome.INVALID, problems=(Problem("too large"),))),
    ({"slug": "a", "status": "error", "error": "bad_request", "detail": "'message' too long"},
     BatchAnswer("a", PushOutcome.ERROR, detail="'message' too long", code="bad_request")),
    ({"slug": "a", "status": "would push"},  # never on the wire: not taken as an outcome
     BatchAnswer("a", PushOutcome.ERROR,
                 detail="unexpected result {'slug': 'a', 'status': 'would push'}")),
])
def test_each_server_status_is_one_outcome(
    answer: dict[str, object], expected: BatchAnswer
) -> None:
    assert parse_answer(answer) == expected


def test_a_stored_version_without_its_number_is_a_bad_response() -> None:
    with pytest.raises(ApiError, match="no version in the answer for 'a'") as info:
        parse_answer({"slug": "a", "status": "created"}, 200)
    assert info.value.code == "bad_response"


def test_results_come_in_request_order_and_must_all_be_there() -> None:
    data = {"results": [{"slug": "b", "status": "created", "version": 1}, "garbage"]}
    answers = parse_results(data, 2, "http://x/api/v1/prompts")
    assert [(a.slug, a.outcome) for a in answers] == [("b", PushOutcome.CREATED),
                                                      ("", PushOutcome.ERROR)]
    with pytest.raises(ApiError, match="expected 3 results from http://x"):
        parse_results(data, 3, "http://x/api/v1/prompts")
