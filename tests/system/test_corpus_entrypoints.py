"""The hostile corpus judged the same by every entry point: lint, push, watch and the API.

Every file of tests/data/invalid (plus a generated 300 KiB file) must be refused by each of
them with its line in the message, and every file of tests/data/valid accepted and stored byte
for byte; no entry point may crash. One app, one project per entry point, so that the verdicts
are compared on the same bytes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import Result
from flask import Flask

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.errors import PromptFileError
from promptsync.format.prompt import MAX_FILE_BYTES, parse_prompt, slug_for_path
from promptsync.sync.engine import SyncEngine
from promptsync.watch.daemon import WatchDaemon
from tests.support.app import Account, make_account, running_app
from tests.support.cli import run_cli
from tests.support.live import make_prompt_repo

DATA = Path(__file__).resolve().parents[1] / "data"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (DATA / "invalid" / "EXPECTED.yaml").read_text("utf-8"))
OVERSIZE = "oversize-300k.yaml"
SERVER = "http://testserver"
VALID = sorted(p.relative_to(DATA / "valid").as_posix()
               for p in (DATA / "valid").rglob("*") if p.is_file())


def _oversize() -> bytes:
    return b"template: hi\n" + (b"# " + b"x" * 97 + b"\n") * (300 * 1024 // 100)


def _invalid_files() -> dict[str, bytes]:
    files = {name: (DATA / "invalid" / name).read_bytes() for name in EXPECTED}
    files[OVERSIZE] = _oversize()
    return files


def _expected(name: str) -> tuple[int | None, str]:
    if name == OVERSIZE:
        return None, "the limit is 262144 bytes"
    return EXPECTED[name]["line"], EXPECTED[name]["message"]


@dataclass
class Corpus:
    """The app, a project per entry point, and a repo holding the corpus for each."""

    app: Flask
    accounts: dict[str, Account]
    root: Path

    def repo(self, entry: str) -> Path:
        """A repo for ``entry``: the invalid corpus under prompts/invalid, the valid at the top."""
        prompts = make_prompt_repo(self.root / entry, SERVER, self.accounts[entry].project)
        for name, data in _invalid_files().items():
            (prompts / "invalid").mkdir(exist_ok=True)
            (prompts / "invalid" / name).write_bytes(data)
        shutil.copytree(DATA / "valid", prompts, dirs_exist_ok=True)
        return prompts

    def stored(self, entry: str) -> dict[str, str]:
        """slug -> latest source on the server, for the entry point's project."""
        api = ApiClient(SERVER, self.accounts[entry].keys["viewer"],
                        transport=httpx.WSGITransport(app=self.app))
        with api:
            return {item["slug"]: item["source"]
                    for item in api.manifest(self.accounts[entry].project, include_source=True)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("corpus")
    shutil.copyfile(sqlite_template, root / "db.sqlite")
    with running_app(f"sqlite:///{root / 'db.sqlite'}") as app:
        accounts = {entry: make_account(app, f"{entry}@example.com", entry)
                    for entry in ("lint", "push", "watch", "api")}
        yield Corpus(app, accounts, root)


def _valid_slugs() -> dict[str, bytes]:
    return {slug_for_path(rel): (DATA / "valid" / rel).read_bytes() for rel in VALID}


def test_the_corpus_is_complete() -> None:
    assert len(EXPECTED) >= 50 and len(VALID) >= 20
    for name, data in _invalid_files().items():
        with pytest.raises(PromptFileError):
            parse_prompt(data, name)


def _assert_cli_verdicts(output: str, *, absent: list[str]) -> None:
    assert "Traceback" not in output
    for name in _invalid_files():
        line, message = _expected(name)
        spot = f"prompts/invalid/{name}" + (f":{line}:" if line is not None else ":")
        hits = [text for text in output.splitlines() if text.startswith(spot)]
        assert any(message in hit for hit in hits), (name, spot, message, hits)
    for text in absent:
        assert text not in output, text


def _cli(corpus: Corpus, entry: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(corpus.root / entry)
    return run_cli(httpx.WSGITransport(app=corpus.app), *args,
                   api_key=corpus.accounts[entry].keys["editor"])


@pytest.mark.usefixtures("isolated_env")  # none of the user's PROMPTSYNC_* settings
def test_lint(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus.repo("lint")
    result = _cli(corpus, "lint", monkeypatch, "lint")
    assert result.exit_code == 1
    _assert_cli_verdicts(result.stdout, absent=[f"prompts/{rel}:" for rel in VALID])
    assert f"{len(VALID)} ok, {len(_invalid_files())} with problems" in result.stderr


@pytest.mark.usefixtures("isolated_env")  # none of the user's PROMPTSYNC_* settings
def test_push(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus.repo("push")
    result = _cli(corpus, "push", monkeypatch, "push")
    assert result.exit_code == 1
    _assert_cli_verdicts(result.stderr, absent=[])
    assert f"{len(_invalid_files())} files not pushed" in result.stderr
    stored = corpus.stored("push")
    assert stored == {slug: data.decode("utf-8") for slug, data in _valid_slugs().items()}


def test_watch(corpus: Corpus) -> None:
    prompts = corpus.repo("watch")
    account = corpus.accounts["watch"]
    api = ApiClient(SERVER, account.keys["editor"], transport=httpx.WSGITransport(app=corpus.app))
    engine = SyncEngine(read_repo_config(corpus.root / "watch"), api, account.project, SERVER)
    lines: list[str] = []
    daemon = WatchDaemon(engine, log=lines.append, clock=lambda: 1000.0)
    daemon.step()  # start-up: reconcile pushes the valid files, reports the invalid ones
    (prompts / "late").mkdir()
    for name, data in _invalid_files().items():  # then saves arrive through the watcher
        (prompts / "late" / name).write_bytes(data)
    daemon.on_change(sorted((prompts / "late").iterdir()))
    daemon.step()
    api.close()
    assert not any("Traceback" in line or line.startswith("watch:") for line in lines), lines
    for name in _invalid_files():
        line, message = _expected(name)
        for prefix in ("invalid", "late"):  # found at start-up, and saved while watching
            # Named as lint names it: the path from the repository root, the line (and column).
            spot = f"prompts/{prefix}/{name}" + (f":{line}:" if line is not None else ":")
            said = [text for text in lines if text.startswith(spot)]
            assert any(message in text for text in said), (name, spot, message, said)
    stored = corpus.stored("watch")
    assert stored == {slug: data.decode("utf-8") for slug, data in _valid_slugs().items()}


def _post(client: Any, account: Account, slug: str, body: bytes) -> Any:
    return client.post(f"/api/v1/projects/{account.project}/prompts/{slug}", data=body,
                       headers={**account.headers("editor"), "Content-Type": "application/json"})


def test_api(corpus: Corpus) -> None:
    client = corpus.app.test_client()
    account = corpus.accounts["api"]
    for name, data in _invalid_files().items():
        slug = slug_for_path(f"invalid/{name}")
        line, message = _expected(name)
        # The text as an editor would send it; bytes that are not UTF-8 as escaped surrogates.
        text = data.decode("utf-8", errors="surrogateescape")
        response = _post(client, account, slug, json.dumps({"source": text}).encode())
        assert response.status_code == 422, (name, response.get_json())
        body = response.get_json()
        assert body["error"] == "invalid_prompt" and body["detail"]
        if name == OVERSIZE:
            continue
        lines_found = [p["line"] for p in body["problems"] if message in p["message"]]
        try:
            data.decode("utf-8")
            as_text = True
        except UnicodeDecodeError:
            as_text = False
        if not as_text:
            # Only the bytes can be wrong here: as JSON text they arrive as another problem.
            assert body["problems"][0]["line"] == line, (name, body)
        else:
            assert line in lines_found, (name, body["problems"])
        # The raw bytes inside a JSON body: refused as a malformed request, never a 500.
        raw = _post(client, account, slug, b'{"source": "' + data.replace(b'"', b"'") + b'"}')
        assert raw.status_code in (400, 422), (name, raw.status_code)
    for slug, data in _valid_slugs().items():
        response = _post(client, account, slug, json.dumps({"source": data.decode()}).encode())
        assert response.status_code == 201, (slug, response.get_json())
        assert response.get_json()["source"] == data.decode("utf-8")
    assert corpus.stored("api") == {s: d.decode("utf-8") for s, d in _valid_slugs().items()}


def test_oversize_is_refused_before_reading_it_all() -> None:
    assert len(_oversize()) > MAX_FILE_BYTES
