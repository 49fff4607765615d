"""A malicious server cannot make `pull` or `watch` write outside the prompts dir.

First the two guards of promptsync.sync.writes (relpath_for, safe_target) one call at a time;
then, end to end, a compromised server answers the real CLI and the watch daemon with hostile
manifests, and the whole tree around the repository is compared before and after.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from click.testing import Result

from promptsync.client.api import ApiClient
from promptsync.config import read_repo_config
from promptsync.format.prompt import source_sha256
from promptsync.sync.engine import SyncEngine
from promptsync.sync.state import SyncState
from promptsync.sync.writes import UnsafePath, relpath_for, safe_target
from promptsync.watch.daemon import WatchDaemon
from tests.support.cli import run_cli
from tests.support.live import make_prompt_repo, prompt_source

# --- the two guards, one call at a time ----------------------------------------------------


@pytest.mark.parametrize("slug", ["../evil", "/etc/passwd", "a\\b", "a/../../b", "", "A/b", "a//b"])
def test_unsafe_slugs_from_the_server_are_refused(slug: str) -> None:
    with pytest.raises(UnsafePath):
        relpath_for(slug)


def test_relpath_keeps_a_known_yml_path_for_the_same_slug() -> None:
    assert relpath_for("a/b", "a/b.yml") == "a/b.yml"
    assert relpath_for("a/b", "other.yaml", None) == "a/b.yaml"


def test_safe_target_refuses_symlinked_folders(tmp_path: Path) -> None:
    root = tmp_path / "prompts"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "sneaky").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match="symbolic link"):
        safe_target(root, "sneaky/x.yaml")
    (root / "file").write_text("x")
    with pytest.raises(UnsafePath, match="is a file"):
        safe_target(root, "file/x.yaml")
    assert safe_target(root, "new/deep/x.yaml") == root.resolve() / "new/deep/x.yaml"
    assert (root / "new" / "deep").is_dir()
    assert list(outside.iterdir()) == []


# --- a hostile server, end to end -----------------------------------------------------------

SERVER = "http://evil.test"
PROJECT = "demo"
BASE = f"/api/v1/projects/{PROJECT}/prompts"
BODY = prompt_source("pwned {{ name }}")
HOSTILE = [
    "../x", "../../x", "a/../../b", "a/../../../etc/x", "./x", "a/./b", "a//b", "a/b/", "/x",
    "..", ".", "", "A/B", "Support/greeting", "a\\b", "..\\..\\x", "a/b\\..\\..\\c", "~/x",
    "a\nb", "a\x00b", "％2e%2e/x", "%2e%2e/x", "ａ/b", "a/\u2024\u2024/b", " x", "x ",
    "/".join(["s"] * 9), "x" * 201, "a:b", "c:/x",
]


class EvilServer:
    """A compromised server: serves whatever manifest it is given, with matching hashes."""

    def __init__(self, slugs: list[str], absolute: Path) -> None:
        self.items = {slug: BODY for slug in slugs}
        self.items[str(absolute)] = BODY  # an absolute path inside the test's own tree
        self.items[str(absolute).lstrip("/")] = BODY  # harmless: a normal relative slug?
        self.requests: list[str] = []

    def _version(self, slug: str) -> dict[str, object]:
        return {"slug": slug, "version": 7, "sha256": source_sha256(self.items[slug]),
                "source": self.items[slug], "labels": []}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = unquote(request.url.raw_path.decode("ascii").split("?")[0])
        self.requests.append(path)
        if path == BASE:
            with_source = request.url.params.get("include") == "source"
            items = [{**self._version(s), "labels": {}, "updated_at": "2025-01-01T00:00:00Z"}
                     for s in self.items]
            if not with_source:
                for item in items:
                    del item["source"]
            return httpx.Response(200, json={"prompts": items, "next": None})
        slug = path.removeprefix(BASE + "/")
        if slug in self.items:
            return httpx.Response(200, json=self._version(slug))
        return httpx.Response(404, json={"error": "not_found", "detail": "No such prompt."})


def _tree(root: Path) -> dict[str, str]:
    """Every path under root (links not followed) -> its kind and content hash."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                found[str(path)] = "link:" + os.readlink(path)
            elif path.is_file():
                found[str(path)] = source_sha256(path.read_bytes())
            else:
                found[str(path)] = "dir"
    return found


@pytest.fixture
def world(isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repo inside tmp_path with an 'outside' folder beside it, and the CLI's env isolated."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "target.yaml").write_text("template: mine\n")
    make_prompt_repo(tmp_path / "repo", SERVER, PROJECT)
    monkeypatch.chdir(tmp_path / "repo")
    yield tmp_path


def _pull(server: EvilServer, *args: str) -> Result:
    return run_cli(httpx.MockTransport(server.handler), "pull", *args, api_key="psk_00000000_x")


def _outside(world: Path) -> dict[str, str]:
    """Everything under tmp_path except the prompts dir and the sync state."""
    prompts, state = world / "repo" / "prompts", world / "repo" / ".promptsync"
    return {p: v for p, v in _tree(world).items()
            if not (p.startswith(str(prompts)) or p.startswith(str(state)))}


@pytest.mark.parametrize("many", [False, True], ids=["per-prompt", "manifest-with-sources"])
@pytest.mark.parametrize("force", [False, True], ids=["pull", "pull-force"])
def test_hostile_slugs_never_leave_the_prompts_dir(world: Path, many: bool, force: bool) -> None:
    slugs = HOSTILE + ([f"fine/n{i}" for i in range(25)] if many else [])
    server = EvilServer(slugs, world / "outside" / "abs")
    before = _outside(world)

    result = _pull(server, *(["--force"] if force else []))

    assert result.exit_code == 1, result.output  # refused ones make the pull fail...
    assert "Traceback" not in result.output
    assert _outside(world) == before  # ...and nothing outside prompts/ changed
    prompts = world / "repo" / "prompts"
    written = {p.relative_to(prompts).as_posix() for p in prompts.rglob("*") if p.is_file()}
    relative_abs = str(world / "outside" / "abs").lstrip("/") + ".yaml"
    assert written == {f"fine/n{i}.yaml" for i in range(25 if many else 0)} | {relative_abs}
    for path in prompts.rglob("*"):
        assert path.resolve().is_relative_to(prompts.resolve())
    refused = [line for line in result.stderr.splitlines() if line.startswith("refused: ")]
    assert len(refused) == len(HOSTILE) + 1  # each hostile slug and the absolute path
    # One line each: a slug cannot inject line breaks or control characters into the output.
    assert not any(c in result.stderr for c in "\x00\x1b\r")


def test_control_characters_in_slugs_are_escaped_in_status_and_pull(world: Path) -> None:
    server = EvilServer(["a\x1b[2Jb", "x\u202eyaml", "n\nrefused: fake"], world / "o" / "d")
    status = run_cli(httpx.MockTransport(server.handler), "status", api_key="psk_00000000_x")
    pulled = _pull(server)
    for output in (status.stdout, pulled.stderr):
        assert "\x1b" not in output and "\u202e" not in output, output
        assert "a\\x1b[2Jb" in output and "n\\nrefused: fake" in output
        assert not any(line.startswith("refused: fake") for line in output.splitlines())


def test_symlinked_folder_and_file_inside_prompts_are_not_followed(world: Path) -> None:
    prompts = world / "repo" / "prompts"
    (prompts / "sneaky").symlink_to(world / "outside", target_is_directory=True)
    (prompts / "linked.yaml").symlink_to(world / "outside" / "target.yaml")
    server = EvilServer(["sneaky/target", "sneaky/new", "linked", "ok"], world / "outside" / "a")
    before = _outside(world)
    for args in ((), ("--force",)):
        result = _pull(server, *args)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "refused: sneaky/target" in result.stderr and "symbolic link" in result.stderr
        assert _outside(world) == before
    assert (world / "outside" / "target.yaml").read_text() == "template: mine\n"
    assert (prompts / "ok.yaml").read_text() == BODY


def test_a_tampered_state_path_is_not_trusted(world: Path) -> None:
    repo = world / "repo"
    state = SyncState.load(repo / ".promptsync", SERVER, PROJECT)
    state.record("evil", 1, source_sha256("x"), "../../outside/target.yaml")
    state.record("other", 1, source_sha256("x"), "/" + str(world / "outside" / "target.yaml"))
    state.save()
    server = EvilServer(["evil", "other"], world / "outside" / "b")
    before = _outside(world)
    result = _pull(server, "--force")
    assert "Traceback" not in result.output
    assert _outside(world) == before
    assert (repo / "prompts" / "evil.yaml").read_text() == BODY


def test_a_server_whose_source_does_not_match_its_hash_is_refused(world: Path) -> None:
    server = EvilServer(["a"], world / "outside" / "c")
    real = server._version

    def lying(slug: str) -> dict[str, object]:
        return {**real(slug), "source": "template: something else\n"}

    server._version = lying  # type: ignore[method-assign]
    result = _pull(server)
    assert result.exit_code == 1 and "does not match its sha256" in result.stderr
    assert not (world / "repo" / "prompts" / "a.yaml").exists()


def test_watch_pulls_through_the_same_guards(world: Path) -> None:
    prompts = world / "repo" / "prompts"
    (prompts / "sneaky").symlink_to(world / "outside", target_is_directory=True)
    server = EvilServer([*HOSTILE, "sneaky/x", "ok"], world / "outside" / "w")
    api = ApiClient(SERVER, "psk_00000000_x", transport=httpx.MockTransport(server.handler))
    engine = SyncEngine(read_repo_config(world / "repo"), api, PROJECT, SERVER)
    lines: list[str] = []
    daemon = WatchDaemon(engine, log=lines.append, clock=lambda: 1000.0)
    before = _outside(world)
    daemon.step()  # reconcile: pulls what the server has
    api.close()
    assert _outside(world) == before
    assert (prompts / "ok.yaml").read_text() == BODY
    assert not any(line.startswith("watch:") or "Traceback" in line for line in lines), lines
    assert json.loads((world / "repo" / ".promptsync" / "state.json").read_text())
