"""Tests for promptsync.sync.plan: plain values in, one action per prompt out; no disk, no net."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsync.errors import Problem
from promptsync.format.prompt import source_sha256
from promptsync.sync.plan import Action, Plan, Remote, Status, classify, make_plan
from promptsync.sync.scan import LocalFile, Scan, Selection
from promptsync.sync.state import Entry

A, B, C = (source_sha256(x) for x in ("a", "b", "c"))


def local(slug: str, sha: str) -> LocalFile:
    return LocalFile(slug, slug + ".yaml", Path("/p", slug + ".yaml"), sha, b"")


@pytest.mark.parametrize(
    ("file_sha", "entry", "remote", "expected"),
    [
        (A, None, None, Status.NEW),
        (A, Entry(1, A, "s.yaml"), None, Status.NEW),  # the server lost it: push it again
        (A, None, Remote(1, A), Status.IN_SYNC),  # never synced here, but identical
        (A, Entry(1, A, "s.yaml"), Remote(1, A), Status.IN_SYNC),
        (B, Entry(1, A, "s.yaml"), Remote(1, A), Status.MODIFIED),
        (A, Entry(1, A, "s.yaml"), Remote(2, B), Status.BEHIND),
        (B, Entry(1, A, "s.yaml"), Remote(2, C), Status.CONFLICT),
        (B, Entry(1, A, "s.yaml"), Remote(2, B), Status.IN_SYNC),  # both made the same edit
        (B, None, Remote(3, A), Status.CONFLICT),  # never known to agree: do not guess
        (None, Entry(1, A, "s.yaml"), Remote(1, A), Status.DELETED),
        (None, Entry(1, A, "s.yaml"), Remote(2, B), Status.CONFLICT),  # deleted, server moved
        (None, None, Remote(2, B), Status.BEHIND),  # new on the server: pull creates it
        (None, Entry(1, A, "s.yaml"), None, None),  # gone everywhere: nothing to do
        # A pull interrupted between recording v2 and renaming: the file still holds v1.
        (A, Entry(2, B, "s.yaml", (1, A)), Remote(2, B), Status.BEHIND),
        (B, Entry(2, B, "s.yaml", (1, A)), Remote(2, B), Status.IN_SYNC),
        (C, Entry(2, B, "s.yaml", (1, A)), Remote(2, B), Status.CONFLICT),
        (None, Entry(2, B, "s.yaml", (0, "")), Remote(2, B), Status.BEHIND),
    ],
)
def test_classify(file_sha: str | None, entry: Entry | None, remote: Remote | None,
                  expected: Status | None) -> None:
    file = local("s", file_sha) if file_sha else None
    assert classify("s", file, entry, remote) == expected


def test_plan_validates_only_what_would_be_uploaded() -> None:
    checked: list[str] = []

    def check(file: LocalFile) -> tuple[Problem, ...]:
        checked.append(file.slug)
        return (Problem("bad", 1, 2),) if file.slug == "bad" else ()

    scanned = Scan(files={s: local(s, sha) for s, sha in
                          [("same", A), ("edited", B), ("bad", C), ("fresh", A)]})
    entries = {"same": Entry(1, A, "same.yaml"), "edited": Entry(1, A, "edited.yaml"),
               "bad": Entry(1, A, "bad.yaml")}
    remote = {"same": Remote(1, A), "edited": Remote(1, A), "bad": Remote(1, A),
              "theirs": Remote(4, B)}
    plan = make_plan(scanned, entries, remote, check=check)
    assert {a.slug: a.status for a in plan.actions} == {
        "bad": Status.INVALID, "edited": Status.MODIFIED, "fresh": Status.NEW,
        "same": Status.IN_SYNC, "theirs": Status.BEHIND,
    }
    assert sorted(checked) == ["bad", "edited", "fresh"]  # unchanged files are only hashed
    assert [a.slug for a in plan.out_of_sync] == ["bad", "edited", "fresh", "theirs"]
    assert plan.with_status(Status.MODIFIED)[0].base_version == 1
    assert plan.counts()[Status.IN_SYNC] == 1


def test_plan_respects_a_selection() -> None:
    scanned = Scan(files={"a/x": local("a/x", A)})
    remote = {"a/y": Remote(1, B), "b/z": Remote(1, C)}
    plan = make_plan(scanned, {}, remote, selection=Selection(prefixes=("a/",), everything=False),
                     check=lambda f: ())
    assert [a.slug for a in plan.actions] == ["a/x", "a/y"]


def test_action_helpers() -> None:
    action = Action("a", Status.BEHIND, remote=Remote(3, A))
    assert action.remote_version == 3
    assert Plan([action]).with_status(Status.BEHIND) == [action]
