"""The plan's lifecycle half: deletions, archives on the server, restores and renames; pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptsync.format.prompt import source_sha256
from promptsync.sync.plan import OUT_OF_SYNC, Remote, Status, classify, make_plan
from promptsync.sync.scan import LocalFile, Scan, Selection
from promptsync.sync.state import Entry, Pending, SyncState

A, B, C = (source_sha256(x) for x in ("a", "b", "c"))


def local(slug: str, sha: str) -> LocalFile:
    return LocalFile(slug, slug + ".yaml", Path("/p", slug + ".yaml"), sha, b"")


def entry(version: int, sha: str, slug: str = "s") -> Entry:
    return Entry(version, sha, slug + ".yaml")


def archived(version: int, sha: str) -> Remote:
    return Remote(version, sha, archived=True)


def tomb(version: int, sha: str) -> Entry:
    return Entry(version, sha, "s.yaml", archived=True)


@pytest.mark.parametrize(
    ("file_sha", "synced", "remote", "expected"),
    [
        # The file deleted while in sync: push archives the prompt.
        (None, entry(3, A), Remote(3, A), Status.DELETED),
        # Deleted here while the server moved on: a conflict, refused like any other.
        (None, entry(3, A), Remote(4, B), Status.CONFLICT),
        (None, entry(3, A), Remote(3, B), Status.CONFLICT),  # same number, other bytes
        # Archived on the server, the file as last synced: pull removes it.
        (A, entry(3, A), archived(3, A), Status.ARCHIVED),
        (A, entry(3, A), archived(5, C), Status.ARCHIVED),  # moved on, then archived
        # Archived there, edited here: neither side is touched without --force.
        (B, entry(3, A), archived(3, A), Status.CONFLICT),
        # A file this checkout never synced (a deletion reverted, a prompt made again):
        # pushing it restores the prompt.
        (A, None, archived(3, A), Status.NEW),
        (B, None, archived(3, A), Status.NEW),
        # Gone on both sides, whatever the state remembers: nothing to do, nothing to report.
        (None, entry(3, A), archived(3, A), None),
        (None, None, archived(3, A), None),
        # Restored on the server after this checkout deleted and archived it: pull writes it.
        (None, None, Remote(3, A), Status.BEHIND),
        # Restored there while the file was still here: in sync again.
        (A, entry(3, A), Remote(3, A), Status.IN_SYNC),
        # Archived from this checkout (the entry kept, marked archived): ignored by the plan.
        (A, tomb(3, A), archived(3, A), Status.NEW),  # put back: push restores it
        (None, tomb(3, A), archived(3, A), None),
        (None, tomb(3, A), Remote(3, A), Status.BEHIND),  # restored on the server
        (A, tomb(3, A), Remote(3, A), Status.IN_SYNC),  # restored there, put back here
        (B, tomb(3, A), Remote(4, C), Status.CONFLICT),  # both brought it back, differently
        # A pull interrupted before its rename (the file still holds v2), then archived.
        (A, Entry(3, B, "s.yaml", (2, A)), archived(3, B), Status.ARCHIVED),
    ],
)
def test_classify_lifecycle(file_sha: str | None, synced: Entry | None, remote: Remote | None,
                            expected: Status | None) -> None:
    file = local("s", file_sha) if file_sha else None
    assert classify("s", file, synced, remote) == expected


def plan_of(files: dict[str, str], entries: dict[str, Entry], remote: dict[str, Remote],
            selection: Selection | None = None) -> dict[str, tuple[Status, str | None]]:
    scanned = Scan(files={slug: local(slug, sha) for slug, sha in files.items()})
    plan = make_plan(scanned, entries, remote, selection=selection, check=lambda f: ())
    return {a.slug: (a.status, a.renamed_from) for a in plan.actions}


def test_a_deleted_prompt_and_a_new_file_with_its_bytes_are_one_rename() -> None:
    scanned = Scan(files={"new": local("new", A)})
    plan = make_plan(scanned, {"old": entry(3, A, "old")}, {"old": Remote(3, A)},
                     check=lambda f: ())
    (action,) = plan.actions  # one action: no archive of old beside it
    assert (action.slug, action.status) == ("new", Status.RENAMED)
    assert (action.renamed_from, action.renamed_from_version) == ("old", 3)
    assert action.base_version == 0 and action.local is not None
    assert Status.RENAMED in OUT_OF_SYNC and plan.counts()[Status.RENAMED] == 1


def test_different_bytes_are_an_archive_and_a_create() -> None:
    assert plan_of({"new": B}, {"old": entry(3, A, "old")}, {"old": Remote(3, A)}) == {
        "new": (Status.NEW, None), "old": (Status.DELETED, None)}


def test_two_deletions_and_two_creations_with_swapped_contents_pair_by_bytes() -> None:
    got = plan_of({"x": B, "y": A}, {"a": entry(1, A, "a"), "b": entry(2, B, "b")},
                  {"a": Remote(1, A), "b": Remote(2, B)})
    assert got == {"x": (Status.RENAMED, "b"), "y": (Status.RENAMED, "a")}


def test_two_files_swapping_contents_in_place_are_two_edits() -> None:
    got = plan_of({"a": B, "b": A}, {"a": entry(1, A, "a"), "b": entry(1, B, "b")},
                  {"a": Remote(1, A), "b": Remote(1, B)})
    assert got == {"a": (Status.MODIFIED, None), "b": (Status.MODIFIED, None)}


def test_a_rename_onto_an_existing_prompt_overwrites_it_and_archives_the_old_one() -> None:
    # git mv -f old.yaml live.yaml: live gets a new version, old is archived; no rename,
    # as the server refuses to rename onto a live prompt.
    got = plan_of({"live": A}, {"old": entry(3, A, "old"), "live": entry(1, B, "live")},
                  {"old": Remote(3, A), "live": Remote(1, B)})
    assert got == {"live": (Status.MODIFIED, None), "old": (Status.DELETED, None)}


def test_a_rename_onto_an_archived_slug_restores_it_and_archives_the_old_one() -> None:
    got = plan_of({"gone": A}, {"old": entry(3, A, "old")},
                  {"old": Remote(3, A), "gone": archived(2, C)})
    assert got == {"gone": (Status.NEW, None), "old": (Status.DELETED, None)}


@pytest.mark.parametrize(
    ("files", "deleted"),
    [
        ({"x": A, "y": A}, {"a": A}),  # one deletion, two copies of it
        ({"x": A}, {"a": A, "b": A}),  # two deleted prompts with the same bytes, one file
    ],
)
def test_ambiguous_renames_are_left_as_archive_and_create(files: dict[str, str],
                                                          deleted: dict[str, str]) -> None:
    entries = {slug: entry(1, sha, slug) for slug, sha in deleted.items()}
    remote = {slug: Remote(1, sha) for slug, sha in deleted.items()}
    got = plan_of(files, entries, remote)
    assert got == {**{s: (Status.NEW, None) for s in files},
                   **{s: (Status.DELETED, None) for s in deleted}}


def test_a_deletion_the_server_moved_past_is_not_renamed() -> None:
    got = plan_of({"new": A}, {"old": entry(3, A, "old")}, {"old": Remote(4, B)})
    assert got == {"new": (Status.NEW, None), "old": (Status.CONFLICT, None)}


def test_an_invalid_new_file_is_not_a_rename() -> None:
    from promptsync.errors import Problem

    scanned = Scan(files={"new": local("new", A)})
    plan = make_plan(scanned, {"old": entry(3, A, "old")}, {"old": Remote(3, A)},
                     check=lambda f: (Problem("bad"),))
    assert {a.slug: a.status for a in plan.actions} == {"new": Status.INVALID,
                                                        "old": Status.DELETED}


def test_a_rename_needs_both_halves_in_the_selection() -> None:
    only_new = Selection(exact=frozenset({"new"}), everything=False)
    got = plan_of({"new": A}, {"old": entry(3, A, "old")}, {"old": Remote(3, A)}, only_new)
    assert got == {"new": (Status.NEW, None)}


def test_restoring_an_archived_prompt_is_based_on_its_last_version() -> None:
    plan = make_plan(Scan(files={"s": local("s", B)}), {}, {"s": archived(7, A)},
                     check=lambda f: ())
    (action,) = plan.actions
    assert (action.status, action.base_version) == (Status.NEW, 7)  # push sends parent 7


def test_once_archived_nothing_is_out_of_sync() -> None:
    # After push archived it (and forgot it) or pull removed the file: status is clean.
    plan = make_plan(Scan(), {}, {"old": archived(3, A), "live": Remote(1, B)},
                     check=lambda f: ())
    assert [(a.slug, a.status) for a in plan.out_of_sync] == [("live", Status.BEHIND)]


def test_an_archived_entry_and_lifecycle_journal_items_survive_the_state_file(
        tmp_path: Path) -> None:
    state = SyncState(tmp_path)
    state.record("old", 3, A, "old.yaml")
    state.record("live", 1, B, "live.yaml")
    state.mark_archived("old")
    state.journal = [Pending("new", A, None, None, "new.yaml", source="x", renamed_from="old"),
                     Pending("gone", C, None, None, "gone.yaml", archive=True)]
    state.save()
    again = SyncState.load(tmp_path)
    assert again.entries == state.entries and again.journal == state.journal
    assert again.get("old") == Entry(3, A, "old.yaml", archived=True)
    assert again.base_version("old") == 3  # a file put back restores it from v3
    # The plan no longer counts it as synced: a file of it again is new (push restores it).
    plan = make_plan(Scan(files={"old": local("old", A)}), again.entries,
                     {"old": archived(3, A)}, check=lambda f: ())
    assert [(a.status, a.base_version) for a in plan.actions] == [(Status.NEW, 3)]
    # A journaled archive is never taken for an upload that landed, whatever the hashes say.
    left = again.resolve_journal({"gone": (1, C), "new": (1, A)})
    assert [(p.slug, p.archive) for p in left] == [("gone", True)]
    assert [p.slug for p in again.journal] == ["gone"] and again.get("new") == Entry(1, A,
                                                                                    "new.yaml")
