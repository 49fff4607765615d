"""`watch` follows deletions and renames: the daemon over the real app in-process (httpx WSGI
transport), a fake clock, no watcher thread: the tests deliver paths as the watcher does (a
deleted one only once it stayed missing for the grace period) and step the sync thread."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from tests.support.app import make_account
from tests.support.live import prompt_source
from tests.support.watch_rig import Rig

FIRST = prompt_source("Hello {{ name }}.")
SECOND = prompt_source("Hi {{ name }}.")
THIRD = prompt_source("Hey {{ name }}.")


def test_a_deleted_file_archives_its_prompt(rig: Rig) -> None:
    rig.save("a", FIRST)
    synced = rig.engine.reload().get("a")
    assert synced is not None and not synced.archived
    rig.path("a").unlink()
    rig.deliver("a")
    assert rig.lines == ["a: pushed v1", "a: archived"]
    assert not rig.live("a")
    state = rig.engine.reload()
    assert state.journal == [] and state.get("a") == replace(synced, archived=True)
    assert rig.engine.plan().out_of_sync == []  # status is clean again
    rig.poll()
    assert rig.lines[2:] == []  # nothing more: not pulled back, not archived twice


def test_a_rescan_finding_a_file_gone_archives_it(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.path("a").unlink()
    rig.daemon.on_rescan()  # no watcher here: judged at once (with one, after the grace)
    rig.daemon.step()
    assert rig.lines[-1] == "a: archived" and not rig.live("a")


@pytest.mark.parametrize("together", [True, False], ids=["one-batch", "new-file-first"])
def test_a_moved_file_is_one_rename(rig: Rig, together: bool) -> None:
    rig.save("a", FIRST)
    os.rename(rig.path("a"), rig.path("b"))
    if together:
        rig.deliver("a", "b")
    else:
        # git mv: the new path is delivered at once, the old one only after the grace period.
        rig.deliver("b")
        rig.deliver("a")
    assert rig.lines == ["a: pushed v1", "b: pushed v1, renamed from a"]
    (latest,) = rig.admin.versions(rig.project, "b")
    assert latest["renamed_from"] == "a@v1"
    assert not rig.live("a")
    state = rig.engine.reload()
    assert [(s, e.archived) for s, e in sorted(state.entries.items())] == [("a", True),
                                                                          ("b", False)]
    assert state.journal == []
    assert rig.engine.plan().out_of_sync == []


def test_a_rename_sent_again_after_its_answer_was_lost_is_said_once(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.transport.lose = True
    os.rename(rig.path("a"), rig.path("b"))
    rig.deliver("a", "b")  # git mv: the server renames a to b, and its answer is lost
    assert not rig.live("a") and rig.live("b")
    assert rig.engine.reload().journal != []  # not known to have landed: sent again
    rig.poll()  # the server answers the same rename "unchanged": it landed the first time
    assert rig.lines[0] == "a: pushed v1"
    assert [line for line in rig.lines if line.startswith("b:")] == [
        "b: pushed v1, renamed from a"]
    (latest,) = rig.admin.versions(rig.project, "b")
    assert latest["renamed_from"] == "a@v1"
    assert not rig.live("a") and rig.live("b")  # no new prompt b beside it
    state = rig.engine.reload()
    assert state.journal == []
    assert [(s, e.archived) for s, e in sorted(state.entries.items())] == [("a", True),
                                                                          ("b", False)]
    assert rig.engine.plan().out_of_sync == []


def test_a_copy_while_the_original_stays_is_no_rename(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.path("b").write_text(FIRST)
    rig.deliver("b")
    assert rig.lines == ["a: pushed v1", "b: pushed v1"]
    assert rig.live("a") and rig.admin.versions(rig.project, "b")[0]["renamed_from"] is None


def test_a_file_put_back_after_its_archive_restores_the_prompt(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.path("a").unlink()
    rig.deliver("a")
    rig.save("a", FIRST)  # git checkout of the deleted file: the same bytes
    assert rig.lines == ["a: pushed v1", "a: archived", "a: pushed v2"]
    assert rig.live("a")


def test_a_prompt_archived_on_the_server_loses_its_unchanged_file(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.admin.archive(rig.project, "a")
    rig.poll()
    assert not rig.path("a").exists()
    assert rig.lines[-1] == "a: archived on the server, file removed"
    rig.deliver("a")  # the watcher reports our own removal: nothing to archive or say
    rig.poll()
    assert rig.lines[-1] == "a: archived on the server, file removed"
    # Restored on the server: the file comes back.
    rig.admin.restore(rig.project, "a")
    rig.poll()
    assert rig.path("a").read_text() == FIRST and rig.lines[-1] == "a: pulled v1"


def test_a_prompt_archived_on_the_server_keeps_a_changed_file(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.admin.archive(rig.project, "a")
    rig.path("a").write_text(SECOND)  # edited, and not yet delivered when the poll comes
    rig.poll()
    assert rig.path("a").read_text() == SECOND
    assert rig.lines[-1].startswith("a: conflict: changed here, archived on the server")
    rig.deliver("a")  # this content was reported: not sent behind the user's back
    assert not rig.live("a")
    rig.save("a", THIRD)  # saved again: the save restores the prompt with the new text
    assert rig.lines[-1] == "a: pushed v2" and rig.live("a")


def test_a_deletion_under_a_protected_label_is_refused_with_what_to_do(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.admin.set_label(rig.project, "a", "production", 1)
    rig.path("a").unlink()
    rig.deliver("a")
    assert rig.lines[-1].startswith("a: not archived: ")
    assert "a protected label points at it: an admin moves or removes that label" in (
        rig.lines[-1])
    assert rig.live("a") and rig.engine.reload().journal == []
    rig.daemon.on_rescan()  # tried again at each rescan: said once
    rig.daemon.step()
    assert sum(line.startswith("a: not archived") for line in rig.lines) == 1


def test_a_rename_under_a_protected_label_pushes_the_new_file_alone(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.admin.set_label(rig.project, "a", "production", 1)
    os.rename(rig.path("a"), rig.path("b"))
    rig.deliver("a", "b")
    assert rig.lines[1].startswith("b: not renamed from a, pushed as a new prompt: ")
    assert "b: pushed v1" in rig.lines[2:]
    assert rig.live("a") and rig.live("b")  # a waits for an admin; b is there meanwhile


def test_a_deletion_while_the_server_moved_on_is_a_conflict(rig: Rig) -> None:
    rig.save("a", FIRST)
    rig.admin.push(rig.project, "a", SECOND, parent_version=1)
    rig.path("a").unlink()
    rig.deliver("a")
    assert rig.lines[-1].startswith("a: not archived: ")
    assert "promptsync pull --force brings the file back" in rig.lines[-1]
    assert rig.live("a")
    rig.poll()
    assert rig.lines[-1] == ("a: deleted here while the server moved on to v2: not archived "
                             "(promptsync pull --force brings the file back, promptsync push "
                             "--force archives the prompt anyway)")
    assert not rig.path("a").exists()


def test_deletions_and_renames_made_while_watch_was_down_are_reconciled(
    tmp_path: Path, sqlite_app: Flask
) -> None:
    account = make_account(sqlite_app)
    first = Rig(tmp_path / "repo", sqlite_app, account)
    first.daemon.step()
    first.save("a", FIRST)
    first.save("b", SECOND)
    first.close()
    os.rename(first.path("a"), first.path("c"))
    first.path("b").unlink()
    again = Rig(tmp_path / "repo", sqlite_app, account)
    again.daemon.step()  # reconcile: the rename goes at once
    assert again.lines == ["c: pushed v1, renamed from a"]
    again.daemon.on_rescan()  # the watcher's start-up rescan: b's deletion (after the grace)
    again.daemon.step()
    assert again.lines[-1] == "b: archived"
    assert not again.live("a") and not again.live("b") and again.live("c")
    again.close()
