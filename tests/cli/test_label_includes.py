"""label, rollback, label --delete and approve, refused because of includes (SPEC §13): one
'refused:' line as push prints an archive the server refuses, exit 1, and nothing moved."""

from __future__ import annotations

import httpx
import pytest
from click.testing import Result
from flask import Flask

from tests.support.app import Account
from tests.support.cli import run_cli

STYLE, APP = "shared/style", "support/app"


@pytest.fixture
def run(app: Flask, account: Account, repo: object):
    transport = httpx.WSGITransport(app=app)

    def invoke(*args: str) -> Result:
        return run_cli(transport, *args, api_key=account.keys["admin"])
    return invoke


def push(app: Flask, account: Account, slug: str, template: str) -> None:
    answer = app.test_client().post(
        f"/api/v1/projects/{account.project}/prompts/{slug}",
        json={"source": f"template: '{template}'\n"}, headers=account.headers("editor"))
    assert answer.status_code == 201, answer.get_json()


def refused(result: Result) -> str:
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.stderr.splitlines() if not line.startswith("127.0.0.1")]
    return line


def test_moves_that_would_break_an_include_are_refused_in_one_line(
        run, app: Flask, account: Account) -> None:
    push(app, account, STYLE, "Be brief.")
    push(app, account, APP, "Answer. {{> shared/style }}")  # v1 includes it
    push(app, account, APP, "Answer.")  # v2 does not
    assert run("label", APP, "qa", "1").exit_code == 0
    assert run("label", APP, "qa", "2").exit_code == 0
    archived = app.test_client().delete(f"/api/v1/projects/{account.project}/prompts/{STYLE}",
                                        headers=account.headers("editor"))
    assert archived.status_code == 204

    tail = ("would not resolve (shared/style is archived: support/app -> shared/style); "
            "restore 'shared/style', or point 'qa' at a version without that include.")
    assert refused(run("rollback", APP, "qa")) == (
        "refused: support/app: qa not rolled back: Cannot point 'qa' of 'support/app' at v1: "
        f"its include of 'shared/style' {tail}")
    assert refused(run("label", APP, "qa", "1")) == (
        "refused: support/app: qa not moved to v1: Cannot point 'qa' of 'support/app' at v1: "
        f"its include of 'shared/style' {tail}")
    assert run("labels", APP, "qa").stdout.splitlines()[0].split()[2:5] == ["v1", "->", "v2"]

    # A partial's label others name ({{> tone@beta }}) stays.
    push(app, account, "shared/tone", "Warm.")
    assert run("label", "shared/tone", "beta", "1").exit_code == 0
    push(app, account, "support/bot", "Hi. {{> shared/tone@beta }}")
    assert refused(run("label", "shared/tone", "beta", "--delete")) == (
        "refused: shared/tone: beta not removed: Cannot remove 'beta' from 'shared/tone': it is "
        "included by 'support/bot' (latest v1), whose fetch would then fail (shared/tone@beta "
        "does not exist: support/bot -> shared/tone); point those includes elsewhere, or move "
        "those labels, first.")
