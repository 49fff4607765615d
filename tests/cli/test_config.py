"""Tests for promptsync.config and promptsync.fsutil: discovery, precedence, credentials."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptsync import config
from promptsync.config import (
    RepoConfig,
    credentials_path,
    load_api_key,
    load_repo_config,
    resolve_settings,
    save_credentials,
    write_repo_config,
)
from promptsync.dev.credentials import forget_keys
from promptsync.errors import ConfigError
from promptsync.fsutil import atomic_write


def make_repo(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    (root / "promptsync.yaml").write_text(text, encoding="utf-8")
    return root


def test_finds_config_walking_up_from_a_subdirectory(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "server: http://h:5000/\nproject: demo\n")
    deep = root / "prompts" / "support"
    deep.mkdir(parents=True)
    cfg = load_repo_config(deep)
    assert cfg == RepoConfig(
        root=root.resolve(),
        server="http://h:5000",
        project="demo",
        dir=(root / "prompts").resolve(),
    )
    assert cfg.path == root.resolve() / "promptsync.yaml"
    assert cfg.state_dir == root.resolve() / ".promptsync"


def test_no_config_anywhere_returns_none(tmp_path: Path) -> None:
    assert load_repo_config(tmp_path) is None


def test_defaults_from_cwd_and_empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(tmp_path, "")
    monkeypatch.chdir(root)
    cfg = load_repo_config()
    assert cfg is not None
    assert (cfg.server, cfg.project, cfg.dir) == (None, None, root.resolve() / "prompts")


def test_custom_dir_is_relative_to_root(tmp_path: Path) -> None:
    root = make_repo(tmp_path, "dir: src/llm/prompts\n")
    cfg = load_repo_config(root)
    assert cfg is not None and cfg.dir == root.resolve() / "src" / "llm" / "prompts"
    # Joining onto root keeps working for callers that treat dir as relative.
    assert cfg.root / cfg.dir == cfg.dir


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server: [\n", "promptsync.yaml:2:1: invalid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("sever: http://x\n", "unknown keys: sever"),
        ("server: 5\n", "'server' must be a non-empty string"),
        ("project: ''\n", "'project' must be a non-empty string"),
        ("server: ftp://x\n", "http:// or https://"),
        ("dir: ../outside\n", "'dir' must be inside"),
        ("dir: /etc\n", "'dir' must be inside"),
        ("server: !!python/object:os.system x\n", "invalid YAML"),
        ("server: 'http://[::1:5000'\n", "http:// or https://"),
        ("server: 'http://127.0.0.1:abc'\n", "http:// or https://"),
        ("server: 'http://127.0.0.1:99999'\n", "http:// or https://"),
        ("server: 'http://127.0.0.1:5000/?x=1'\n", "http:// or https://"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    root = make_repo(tmp_path, text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_repo_config(root)


def test_write_repo_config_round_trips(tmp_path: Path) -> None:
    path = write_repo_config(tmp_path, "https://ps.example.com/", "demo", "llm")
    assert path == tmp_path.resolve() / "promptsync.yaml"
    assert yaml.safe_load(path.read_text()) == {
        "server": "https://ps.example.com",
        "project": "demo",
        "dir": "llm",
    }
    cfg = load_repo_config(tmp_path)
    assert cfg is not None
    assert (cfg.server, cfg.project, cfg.dir) == (
        "https://ps.example.com",
        "demo",
        tmp_path.resolve() / "llm",
    )


def test_write_repo_config_accepts_absolute_dir_inside_root(tmp_path: Path) -> None:
    write_repo_config(tmp_path, None, None, tmp_path / "p")
    assert yaml.safe_load((tmp_path / "promptsync.yaml").read_text()) == {"dir": "p"}
    with pytest.raises(ConfigError):
        write_repo_config(tmp_path / "sub", None, None, tmp_path / "p")


def test_env_overrides_file_and_arguments_override_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path, "server: http://file:1\nproject: fromfile\n")
    s = resolve_settings(start=root)
    assert (s.server, s.project, s.api_key) == ("http://file:1", "fromfile", None)
    assert s.repo is not None and s.repo.root == root.resolve()

    monkeypatch.setenv("PROMPTSYNC_SERVER", "http://env:2/")
    monkeypatch.setenv("PROMPTSYNC_PROJECT", "fromenv")
    monkeypatch.setenv("PROMPTSYNC_API_KEY", "psk_env")
    s = resolve_settings(start=root)
    assert (s.server, s.project, s.api_key) == ("http://env:2", "fromenv", "psk_env")

    s = resolve_settings("http://arg:3", "fromarg", "psk_arg", start=root)
    assert (s.server, s.project, s.api_key) == ("http://arg:3", "fromarg", "psk_arg")


def test_empty_env_counts_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(tmp_path, "server: http://file:1\n")
    monkeypatch.setenv("PROMPTSYNC_SERVER", "")
    assert resolve_settings(start=root).server == "http://file:1"


def test_resolve_without_repo(tmp_path: Path) -> None:
    s = resolve_settings(start=tmp_path)
    assert s == config.Settings(server=None, project=None, api_key=None, repo=None)


def test_bad_server_argument_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="http"):
        resolve_settings(server="localhost:5000", start=tmp_path)


def test_credentials_file_is_private_from_the_start(isolated_env: Path) -> None:
    path = save_credentials("http://h:5000/", "demo", "psk_aaaa")
    assert path == isolated_env / "promptsync" / "credentials.yaml" == credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "psk_aaaa" in path.read_text()
    # Nothing else (e.g. a temp file) was left beside it.
    assert [p.name for p in path.parent.iterdir()] == ["credentials.yaml"]


def test_credentials_keyed_by_server_and_project(isolated_env: Path) -> None:
    save_credentials("http://h:5000", "demo", "psk_demo")
    save_credentials("http://h:5000", "other", "psk_other")
    save_credentials("https://prod", "demo", "psk_prod")
    assert load_api_key("http://h:5000/", "demo") == "psk_demo"
    assert load_api_key("http://h:5000", "other") == "psk_other"
    assert load_api_key("https://prod", "demo") == "psk_prod"
    assert load_api_key("https://prod", "other") is None
    assert load_api_key("http://unknown", "demo") is None
    # Without a project: the key saved last for that server.
    assert load_api_key("http://h:5000") == "psk_other"
    save_credentials("http://h:5000", "demo", "psk_demo2")
    assert load_api_key("http://h:5000", None) == "psk_demo2"
    assert stat.S_IMODE(credentials_path().stat().st_mode) == 0o600


def test_credentials_without_project(isolated_env: Path) -> None:
    save_credentials("http://h", None, "psk_any")
    assert load_api_key("http://h") == "psk_any"
    assert load_api_key("http://h", "demo") == "psk_any"


def test_missing_credentials_file(isolated_env: Path) -> None:
    assert load_api_key("http://h", "demo") is None


def test_corrupt_credentials_file_is_a_config_error(isolated_env: Path) -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text("servers: [oops\n")
    with pytest.raises(ConfigError, match="credentials.yaml"):
        load_api_key("http://h", "demo")


def test_relative_xdg_config_home_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert credentials_path() == tmp_path / "home" / ".config" / "promptsync" / "credentials.yaml"


def test_stored_key_is_the_last_resort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(tmp_path, "server: http://h:5000\nproject: demo\n")
    save_credentials("http://h:5000", "demo", "psk_stored")
    assert resolve_settings(start=root).api_key == "psk_stored"
    monkeypatch.setenv("PROMPTSYNC_API_KEY", "psk_env")
    assert resolve_settings(start=root).api_key == "psk_env"
    assert resolve_settings(api_key="psk_arg", start=root).api_key == "psk_arg"
    # The stored key follows the effective server and project.
    monkeypatch.delenv("PROMPTSYNC_API_KEY")
    assert resolve_settings(project="other", start=root).api_key is None


def _dev_account(root: Path, server: str | None, project: str = "demo") -> None:
    """What `promptsync dev` keeps in .promptsync/ after serving ``root`` on ``server``."""
    (root / ".promptsync").mkdir(exist_ok=True)
    account = {"email": "dev@promptsync.localhost", "password": "pw", "project": project,
               "key": "psk_dev", "server": server}
    (root / ".promptsync" / "dev-account.json").write_text(json.dumps(account))


def test_the_dev_servers_key_is_found_in_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path, "server: http://127.0.0.1:5001/\nproject: demo\n")
    save_credentials("http://127.0.0.1:5001", "demo", "psk_left_by_an_old_dev")
    _dev_account(root, "http://127.0.0.1:5001")
    assert resolve_settings(start=root / "prompts").api_key == "psk_dev"
    # Only for the URL dev last served this repository on, and its project.
    assert resolve_settings(server="http://127.0.0.1:5000", start=root).api_key is None
    assert resolve_settings(project="other", start=root).api_key is None
    _dev_account(root, "http://127.0.0.1:5001", project="other")
    assert resolve_settings(start=root).api_key == "psk_left_by_an_old_dev"
    # The environment and arguments still win.
    _dev_account(root, "http://127.0.0.1:5001/")
    monkeypatch.setenv("PROMPTSYNC_API_KEY", "psk_env")
    assert resolve_settings(start=root).api_key == "psk_env"
    assert resolve_settings(api_key="psk_arg", start=root).api_key == "psk_arg"
    monkeypatch.delenv("PROMPTSYNC_API_KEY")
    # An account from before dev remembered its URL, or a file that is not one: not used.
    _dev_account(root, None)
    assert resolve_settings(start=root).api_key == "psk_left_by_an_old_dev"
    (root / ".promptsync" / "dev-account.json").write_text("[")
    assert resolve_settings(start=root).api_key == "psk_left_by_an_old_dev"


def test_the_dev_key_is_taken_out_of_the_credentials_file(isolated_env: Path) -> None:
    for port in (5000, 5001, 5002):
        save_credentials(f"http://127.0.0.1:{port}", "demo", "psk_dev")
    save_credentials("http://127.0.0.1:5001", "other", "psk_login")
    save_credentials("http://127.0.0.1:5003", "demo", "psk_revoked_dev")
    save_credentials("https://prod", "demo", "psk_prod")
    save_credentials("http://h", None, "psk_dev")
    assert forget_keys({"psk_dev", "psk_revoked_dev"}) == 5
    assert yaml.safe_load(credentials_path().read_text()) == {"servers": {
        "http://127.0.0.1:5001": {"default_project": "other", "keys": {"other": "psk_login"}},
        "https://prod": {"default_project": "demo", "keys": {"demo": "psk_prod"}}}}
    assert stat.S_IMODE(credentials_path().stat().st_mode) == 0o600
    before = credentials_path().stat().st_mtime_ns
    assert forget_keys({"psk_dev"}) == 0  # nothing to take: the file is left as it is
    assert credentials_path().stat().st_mtime_ns == before


def test_atomic_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]


def test_atomic_write_new_file_honours_umask_or_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "n.yaml", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "n.yaml").stat().st_mode) == 0o644
    atomic_write(tmp_path / "s", b"secret", mode=0o600)
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o600


def test_atomic_write_failure_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "a.yaml"
    target.write_bytes(b"old")
    real_replace = os.replace
    attempts: list[str] = []

    def boom(src: str, dst: str, *args: Any, **kwargs: Any) -> None:
        # Only this write fails. os.replace is process-wide: a blanket patch also broke any
        # other thread of the pytest worker renaming a file meanwhile (an xdist worker runs
        # this after arbitrary tests), and pytest turns that thread's error into a failure.
        if Path(dst) != target:
            real_replace(src, dst, *args, **kwargs)
            return
        attempts.append(str(src))
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write(target, b"new")
    monkeypatch.undo()
    assert len(attempts) == 1 and Path(attempts[0]).parent == tmp_path  # the temp beside it
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]
