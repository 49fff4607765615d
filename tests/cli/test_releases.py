"""The release commands against the real app in-process: label (and --delete), labels,
rollback, promotions, approve and reject, with what they print and their exit codes."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import Result
from flask import Flask

from tests.support.app import GREETING, Account
from tests.support.cli import run_cli
from tests.support.releases import second_admin

SLUG = "support/greeting"


@pytest.fixture
def run(app: Flask, account: Account, repo: object):
    transport = httpx.WSGITransport(app=app)

    def invoke(*args: str, key: str | None = None) -> Result:
        return run_cli(transport, *args, api_key=key or account.keys["admin"])
    return invoke


def push(app: Flask, account: Account, versions: int) -> None:
    web = app.test_client()
    for n in range(1, versions + 1):
        answer = web.post(f"/api/v1/projects/{account.project}/prompts/{SLUG}",
                          json={"source": GREETING + f"# {n}\n"}, headers=account.headers("editor"))
        assert answer.status_code == 201


def test_label_labels_rollback_and_delete(run, app: Flask, account: Account) -> None:
    push(app, account, 3)
    assert "production -> v1" in run("label", SLUG, "production", "1").stderr
    moved = run("label", SLUG, "production")
    assert moved.exit_code == 0 and "production -> v3 (was v1)" in moved.stderr
    history = run("labels", SLUG)  # production by default
    assert history.exit_code == 0, history.output
    lines = history.stdout.splitlines()
    assert len(lines) == 2 and "v1 -> v3" in lines[0] and "- -> v1" in lines[1]
    assert "ann@example.com (key psk_" in lines[0]
    rolled = run("rollback", SLUG)
    assert rolled.exit_code == 0 and "production -> v1 (was v3)" in rolled.stderr
    assert "rollback of move #" in run("labels", SLUG, "production").stdout.splitlines()[0]
    # Nothing before the first move: said, not guessed.
    assert run("label", SLUG, "staging", "2").exit_code == 0
    refused = run("rollback", SLUG, "staging")
    assert refused.exit_code == 1 and "pointed at nothing before its last move" in refused.stderr
    deleted = run("label", SLUG, "staging", "--delete")
    assert deleted.exit_code == 0 and "staging removed" in deleted.stderr
    assert run("labels", SLUG, "staging").stdout.splitlines()[0].split()[2:5] == ["v2", "->", "-"]
    assert run("label", SLUG, "staging", "2", "--delete").exit_code == 2  # usage
    never = run("labels", SLUG, "canary")
    assert never.exit_code == 0 and never.stdout == "" and "never been set" in never.stderr
    editor = run("label", SLUG, "production", "2", key=account.keys["editor"])
    assert editor.exit_code == 1 and "Only admins may move the 'production' label" in editor.stderr


def test_requests_approvals_and_rejections(run, app: Flask, account: Account) -> None:
    push(app, account, 2)
    bob = second_admin(app, account, "bob@example.com")
    assert run("label", SLUG, "production", "1").exit_code == 0
    web = app.test_client()
    assert web.put(f"/api/v1/projects/{account.project}/settings", json={
        "approvals_required": 1}, headers=account.headers("admin")).status_code == 200
    asked = run("label", SLUG, "production", "2")
    assert asked.exit_code == 0, asked.output
    assert "request #1 waits for another admin's approval" in asked.stderr
    listed = run("promotions")
    assert listed.exit_code == 0 and listed.stdout.startswith("#1")
    assert "pending" in listed.stdout and "production v1 -> v2" in listed.stdout
    own = run("approve", "1")
    assert own.exit_code == 1 and "another admin must approve it" in own.stderr
    assert "promptsync login" not in own.stderr  # no other key would do
    approved = run("approve", "1", key=bob)
    assert approved.exit_code == 0 and "request #1 approved" in approved.stderr
    assert "production -> v2" in approved.stderr
    assert run("promotions").stdout == ""
    assert "approved" in run("promotions", "--state", "all").stdout
    # A rollback of a protected label asks too, and a rejection leaves the label.
    asked = run("rollback", SLUG)
    assert "request #2 waits for another admin's approval" in asked.stderr
    rejected = run("reject", "2", key=bob)
    assert rejected.exit_code == 0 and "request #2 rejected" in rejected.stderr
    removal = run("label", SLUG, "production", "--delete")
    assert "production -> removal: request #3 waits" in removal.stderr
    assert run("approve", "3", key=bob).exit_code == 0
    assert run("labels", SLUG).stdout.splitlines()[0].split()[2:5] == ["v2", "->", "-"]
    assert run("approve", "99", key=bob).exit_code == 1
    assert run("promotions", "--state", "nope").exit_code == 2


def test_labels_json_for_scripts(run, app: Flask, account: Account) -> None:
    push(app, account, 2)
    assert run("label", SLUG, "staging", "1").exit_code == 0
    assert run("label", SLUG, "staging", "2").exit_code == 0
    result = run("labels", SLUG, "staging", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {k: document[k] for k in ("project", "slug", "label")} == {
        "project": account.project, "slug": SLUG, "label": "staging"}
    moves = document["moves"]
    assert [(m["from_version"], m["to_version"]) for m in moves] == [(1, 2), (None, 1)]
    assert moves[0]["actor"].startswith("ann@example.com") and moves[0]["at"]
    assert set(moves[0]) >= {"id", "from_version", "to_version", "actor", "at", "reason"}
    # Never set: an empty list a script can read, as `log --json` of an empty project.
    never = run("labels", SLUG, "canary", "--json")
    assert never.exit_code == 0 and json.loads(never.stdout)["moves"] == []
    # An error stays one line on stderr and exit 1, stdout empty, as for `log --json`.
    missing = run("labels", "no/such", "--json")
    assert (missing.exit_code, missing.stdout) == (1, "")
    assert missing.stderr.startswith("error: "), missing.stderr
