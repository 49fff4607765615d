"""Project export/import and `promptsync backup`/`restore`: byte-identical, SQLite -> Postgres."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from flask import Flask

from tests.support.app import GREETING, Account, make_account, running_app, truncate_postgres
from tests.support.cli import run_cli
from tests.support.live import make_prompt_repo
from webapi.extensions import db

SERVER = "http://testserver"
# Sources that a careless round trip would change: CRLF, no final newline, unicode, comments.
SOURCES = {
    "support/greeting": [GREETING, GREETING + "# second thought\n", GREETING + "# third\n"],
    "chat/crlf": ["messages:\r\n  - {role: user, content: \"Hi {{ q }}\"}\r\n",
                  "# é ✓ 😀\r\nmessages:\r\n  - {role: user, content: \"Yo {{ q }}\"}"],
    "deep/a/b/c/unicode.v2": ["template: \"Grüße, {{ name }} — ありがとう\"\n"],
}


PLAIN_HTTP = {"SESSION_COOKIE_SECURE": False}  # the apps here serve http://testserver
COMMIT = "5d41402abc4b2a76b9719d911017c592a1b2c3d4"


@pytest.fixture
def pair(sqlite_url: str, postgres_url: str) -> Iterator[tuple[Flask, Flask]]:
    """A source app on SQLite and an empty target app on Postgres."""
    truncate_postgres(postgres_url)
    with running_app(sqlite_url, **PLAIN_HTTP) as source, \
            running_app(postgres_url, **PLAIN_HTTP) as target:
        yield source, target


@pytest.fixture(scope="module")
def document(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One export of the seeded project, made once for the tests that only read it."""
    path = tmp_path_factory.mktemp("export") / "source.db"
    shutil.copyfile(sqlite_template, path)
    with running_app(f"sqlite:///{path}", **PLAIN_HTTP) as app:
        return _export(app, _seed(app))


@pytest.fixture
def target(postgres_url: str) -> Iterator[Flask]:
    """An empty app on Postgres."""
    truncate_postgres(postgres_url)
    with running_app(postgres_url, **PLAIN_HTTP) as app:
        yield app


def _seed(app: Flask) -> Account:
    account = make_account(app, "ann@example.com", "demo")
    web = app.test_client()
    admin = account.headers("admin")
    for slug, versions in SOURCES.items():
        for n, source in enumerate(versions):
            body = {"source": source, "message": f"edit {n}",
                    "git": {"commit": COMMIT, "branch": "main", "dirty": False}}
            response = web.post(f"/api/v1/projects/demo/prompts/{slug}", json=body, headers=admin)
            assert response.status_code == 201, response.get_json()
    for label, version in [("staging", 3), ("production", 2)]:
        response = web.put(f"/api/v1/projects/demo/prompts/support/greeting/-/labels/{label}",
                           json={"version": version}, headers=admin)
        assert response.status_code == 200, response.get_json()
    return account


def _export(app: Flask, account: Account, project: str = "demo") -> dict[str, Any]:
    response = app.test_client().get(f"/api/v1/projects/{project}/export",
                                     headers=account.headers("admin"))
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    return dict(response.get_json())


def _without_events(document: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in document.items() if k not in {"events", "exported_at", "project"}}
    for name in ("label_history", "promotions"):  # their ids are each server's own
        kept[name] = [{k: v for k, v in item.items() if k != "id"} for item in kept[name]]
    return kept


def test_export_holds_every_version_label_and_event(pair: tuple[Flask, Flask]) -> None:
    source, _ = pair
    document = _export(source, _seed(source))
    assert document["format"] == "promptsync-export" and document["format_version"] == 1
    prompts = {p["slug"]: p for p in document["prompts"]}
    assert sorted(prompts) == sorted(SOURCES)
    for slug, versions in SOURCES.items():
        assert [v["source"] for v in prompts[slug]["versions"]] == versions
        assert [v["version"] for v in prompts[slug]["versions"]] == list(
            range(1, len(versions) + 1))
    first = prompts["support/greeting"]["versions"][0]
    assert first["author"] == "ann@example.com" and first["message"] == "edit 0"
    assert first["git"]["commit"] == COMMIT and first["created_at"].endswith("Z")
    assert prompts["support/greeting"]["labels"] == {"production": 2, "staging": 3}
    actions = [e["action"] for e in document["events"]]
    assert actions.count("version.created") == 6 and actions.count("label.moved") == 2
    assert "key.created" in actions
    assert not any(a.startswith("psk_") for a in json.dumps(document).split('"')
                   if len(a) > 40)  # prefixes only, never a key


def test_import_sqlite_to_postgres_is_identical(pair: tuple[Flask, Flask]) -> None:
    source, target = pair
    document = _export(source, _seed(source))
    owner = make_account(target, "ann@example.com", "moved")
    response = target.test_client().post("/api/v1/projects/moved/import", json=document,
                                         headers=owner.headers("admin"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["imported"] == {
        "prompts": 3, "versions": 6, "labels": 2, "events": len(document["events"]),
        "label_history": 2, "promotions": 0}
    restored = _export(target, owner, "moved")
    assert _without_events(restored) == _without_events(document)
    # The history comes along (after the new project's own events), then the import itself.
    tail = restored["events"][-len(document["events"]) - 1:]
    assert tail[:-1] == document["events"] and tail[-1]["action"] == "project.imported"
    client = target.test_client()
    fetched = client.get("/api/v1/projects/moved/prompts/chat/crlf?version=2",
                         headers=owner.headers("viewer")).get_json()
    assert fetched["source"] == SOURCES["chat/crlf"][1]
    assert client.get("/api/v1/projects/moved/prompts/support/greeting?label=production",
                      headers=owner.headers("viewer")).get_json()["version"] == 2
    # The version counter continues where the history ends: the next push is v4.
    pushed = client.post("/api/v1/projects/moved/prompts/support/greeting",
                         json={"source": GREETING + "# v4\n", "parent_version": 3},
                         headers=owner.headers("editor"))
    assert pushed.status_code == 201 and pushed.get_json()["version"] == 4


def _count_rows(app: Flask) -> tuple[int, int, int]:
    from sqlalchemy import text

    with app.app_context():
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM prompts), (SELECT count(*) FROM prompt_versions), "
            "(SELECT count(*) FROM labels)")).one()
        db.session.remove()
    return tuple(row)


def _broken(document: dict[str, Any], how: str) -> dict[str, Any]:
    broken = json.loads(json.dumps(document))
    last = broken["prompts"][-1]
    if how == "gap":
        last["versions"][0]["version"] = 2
    elif how == "invalid":
        last["versions"][-1]["source"] = "template: hi\nbogus: 1\n"
    elif how == "sha":
        last["versions"][-1]["sha256"] = "0" * 64
    elif how == "label":
        broken["prompts"][0]["labels"] = {"production": 99}
    elif how == "slug":
        last["slug"] = "../escape"
    elif how == "format":
        broken["format"] = "something-else"
    elif how == "duplicate":
        broken["prompts"].append(broken["prompts"][0])
    elif how == "time":
        broken["events"][0]["created_at"] = "yesterday"
    return broken


@pytest.mark.parametrize("how", ["gap", "invalid", "sha", "label", "slug", "format", "duplicate",
                                 "time"])
def test_a_bad_document_imports_nothing(document: dict[str, Any], target: Flask, how: str
                                        ) -> None:
    owner = make_account(target, "ann@example.com", "moved")
    before = _count_rows(target)
    response = target.test_client().post("/api/v1/projects/moved/import",
                                         json=_broken(document, how),
                                         headers=owner.headers("admin"))
    assert response.status_code == (422 if how == "invalid" else 400), response.get_json()
    assert response.get_json()["detail"]
    assert _count_rows(target) == before


def test_import_only_into_an_empty_project(pair: tuple[Flask, Flask]) -> None:
    source, _ = pair
    account = _seed(source)
    document = _export(source, account)
    before = _count_rows(source)
    response = source.test_client().post("/api/v1/projects/demo/import", json=document,
                                         headers=account.headers("admin"))
    assert response.status_code == 409 and "empty project" in response.get_json()["detail"]
    assert _count_rows(source) == before


# --- the CLI ---------------------------------------------------------------------------------


def _run(app: Flask, key: str, *args: str) -> Result:
    return run_cli(httpx.WSGITransport(app=app), *args, api_key=key)


@pytest.mark.usefixtures("isolated_env")
def test_cli_backup_restore_then_pull_gives_back_the_bytes(
    pair: tuple[Flask, Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = pair
    account = _seed(source)
    owner = make_account(target, "ann@example.com", "moved")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo-backup.json"

    made = _run(source, account.keys["admin"], "--server", SERVER, "--project", "demo",
                "backup", "-o", str(out))
    assert made.exit_code == 0, made.output
    assert "3 prompts, 6 versions" in made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    viewer = _run(source, account.keys["viewer"], "--server", SERVER, "--project", "demo",
                  "backup", "-o", str(tmp_path / "no.json"))
    assert viewer.exit_code == 1 and len(viewer.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "no.json").exists()

    args = ["--server", SERVER, "--project", "moved", "restore", str(out)]
    restored = _run(target, owner.keys["admin"], *args)
    assert restored.exit_code == 0, restored.output
    assert "3 prompts, 6 versions, 2 labels" in restored.stderr
    again = _run(target, owner.keys["admin"], *args)
    assert again.exit_code == 1 and "empty project" in again.stderr
    (tmp_path / "junk.json").write_text("{not json")
    junk = _run(target, owner.keys["admin"], "--server", SERVER, "--project", "moved",
                "restore", str(tmp_path / "junk.json"))
    assert junk.exit_code == 1 and junk.stderr.startswith("error: ") and "Traceback" not in (
        junk.output)

    repo = make_prompt_repo(tmp_path / "checkout", SERVER, "moved")
    monkeypatch.chdir(tmp_path / "checkout")
    pulled = _run(target, owner.keys["viewer"], "pull")
    assert pulled.exit_code == 0, pulled.output
    for slug, versions in SOURCES.items():
        assert (repo / f"{slug}.yaml").read_bytes() == versions[-1].encode("utf-8")
