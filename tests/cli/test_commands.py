"""CLI tests: CliRunner against the real app in-process (httpx WSGI transport)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result
from flask import Flask

from promptsync.cli import cli
from promptsync.cli.context import Obj
from promptsync.client.api import ApiClient
from promptsync.client.bundle import load_bundle
from promptsync.errors import PromptSyncError
from promptsync.sync.state import SyncState
from tests.support.app import GREETING, IN_PROCESS, Account, make_account
from tests.support.cli import run_cli
from tests.support.hostile import Hostile, answer
from tests.support.live import free_port, prompt_source, write_files

SERVER = IN_PROCESS
CHAT = """\
messages:
  - {role: system, content: "You are terse."}
  - {role: user, content: "{{ question }}"}
"""


class Crashing(httpx.BaseTransport):
    """WSGI transport that can die (Ctrl-C) right after the server handled a POST."""

    def __init__(self, app: Flask) -> None:
        self.inner = httpx.WSGITransport(app=app)
        self.crash_on_post = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.crash_on_post and request.method == "POST":
            self.crash_on_post = False
            raise KeyboardInterrupt
        return response


@pytest.fixture
def transport(app: Flask) -> Crashing:
    return Crashing(app)


@pytest.fixture
def prompts(repo: Path) -> Path:
    """The prompts folder of the repository the test runs in."""
    return repo / "prompts"


@pytest.fixture
def run(transport: Crashing, account: Account) -> Iterator[object]:
    def invoke(*args: str, key: str | None = "editor", input: str | None = None) -> Result:
        return run_cli(transport, *args, api_key=account.keys[key] if key else None, input=input)
    yield invoke


def server_api(account: Account, transport: httpx.BaseTransport) -> ApiClient:
    return ApiClient(SERVER, account.keys["editor"], transport=transport)


def test_init_writes_config_creates_dir_and_ignores_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".gitignore").write_text("node_modules")
    args = ["init", "--server", "http://127.0.0.1:5000/", "--project", "demo", "--dir", "p"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "promptsync.yaml").read_text()) == {
        "server": "http://127.0.0.1:5000", "project": "demo", "dir": "p"}
    assert (tmp_path / "p").is_dir() and (tmp_path / ".promptsync").is_dir()
    assert "promptsync login" in result.stderr
    again = CliRunner().invoke(cli, ["init"])
    assert again.exit_code == 0, again.output
    ignore = (tmp_path / ".gitignore").read_text()
    assert ignore.startswith("node_modules\n") and ignore.count(".promptsync/") == 1
    assert yaml.safe_load((tmp_path / "promptsync.yaml").read_text())["project"] == "demo"


def test_login_stores_a_key_used_by_later_commands(run, prompts: Path, account: Account) -> None:
    result = run("login", "--email", account.email, "--password-stdin", key=None,
                 input=account.password + "\n")
    assert result.exit_code == 0, result.output
    assert "admin key psk_" in result.stderr and account.password not in result.output
    write_files(prompts, {"a.yaml": prompt_source()})
    pushed = run("push", key=None)  # no --api-key: the stored one
    assert pushed.exit_code == 0, pushed.output
    assert "a: pushed v1" in pushed.stderr


def test_login_with_a_wrong_password_is_one_line(run, prompts: Path, account: Account) -> None:
    result = run("login", "--email", account.email, "--password-stdin", key=None, input="nope\n")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: wrong email or password for http://testserver"


def test_status_lists_every_kind_and_exit_code(
    run, prompts: Path, account: Account, transport: Crashing
) -> None:
    write_files(prompts, {n: prompt_source(f"{n} {{{{ name }}}}")
                          for n in ("same.yaml", "edit.yaml", "both.yaml", "gone.yaml",
                                    "old.yaml")})
    assert run("push").exit_code == 0
    api = server_api(account, transport)
    api.push("demo", "both", prompt_source("server {{ name }}"))
    api.push("demo", "old", prompt_source("server {{ name }}"))
    api.push("demo", "remote-only", prompt_source())
    write_files(prompts, {"edit.yaml": prompt_source("x {{ name }}"),
                          "both.yaml": prompt_source("y {{ name }}"),
                          "fresh.yaml": prompt_source(), "broken.yaml": "template: [\n"})
    (prompts / "gone.yaml").unlink()
    result = run("status")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    kinds = {line.split()[0]: line for line in lines}
    assert set(kinds) == {"new", "modified", "behind", "conflict", "deleted", "invalid"}
    assert kinds["invalid"].startswith("invalid   prompts/broken.yaml:")
    assert "conflict  both" in kinds["conflict"] and "server at v2" in kinds["conflict"]
    assert sum(line.startswith("behind") for line in lines) == 2
    assert "1 in sync" in result.stderr
    assert run("status", "--exit-code").exit_code == 1


def test_status_exit_code_zero_when_in_sync(run, prompts: Path) -> None:
    write_files(prompts, {"a.yaml": prompt_source()})
    assert run("push").exit_code == 0
    result = run("status", "--exit-code")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "1 in sync" in result.stderr


def test_push_lists_bad_files_with_lines_and_still_pushes_valid_ones(
    run, prompts: Path
) -> None:
    write_files(prompts, {"good.yaml": GREETING, "bad.yaml": "template: hi\nbogus: 1\n",
                          "Upper.yaml": GREETING})
    result = run("push", "-m", "first")
    assert result.exit_code == 1, result.output
    assert "good: pushed v1" in result.stderr
    assert "prompts/bad.yaml:2:1: unknown key 'bogus'" in result.stderr
    assert "prompts/Upper.yaml: bad file name" in result.stderr
    assert "2 files not pushed" in result.stderr
    assert "Traceback" not in result.output


def test_conflict_is_rejected_with_advice_and_force_overwrites(
    run, prompts: Path, account: Account, transport: Crashing
) -> None:
    write_files(prompts, {"support/greeting.yaml": GREETING})
    assert run("push").exit_code == 0
    api = server_api(account, transport)
    for n in range(2, 6):
        api.push("demo", "support/greeting", GREETING + f"# server edit {n}\n")
    write_files(prompts, {"support/greeting.yaml": GREETING + "# mine\n"})
    result = run("push")
    assert result.exit_code == 1
    assert ("rejected: support/greeting is at v5 on the server, your file is based on v1: "
            "promptsync pull --force takes the server's, promptsync push --force keeps yours"
            ) in result.stderr
    pulled = run("pull")
    assert pulled.exit_code == 1 and "refused: support/greeting" in pulled.stderr
    forced = run("push", "--force")
    assert forced.exit_code == 0, forced.output
    assert "support/greeting: pushed v6" in forced.stderr


def test_pull_then_get_gives_back_the_bytes(
    run, prompts: Path, account: Account, transport: Crashing
) -> None:
    source = "# comment\r\n" + GREETING.replace("\n", "\r\n")
    server_api(account, transport).push("demo", "support/greeting", source)
    result = run("pull")
    assert result.exit_code == 0, result.output
    assert "support/greeting: pulled v1 into prompts/support/greeting.yaml" in result.stderr
    assert (prompts / "support/greeting.yaml").read_bytes() == source.encode()
    got = run("get", "support/greeting", key="viewer")
    assert got.exit_code == 0 and got.stdout_bytes == source.encode()
    as_json = json.loads(run("get", "support/greeting", "--json", "--version", "1").stdout)
    assert as_json["version"] == 1 and as_json["source"] == source
    assert run("pull").stderr.strip() == "already up to date"


def test_pull_reports_a_prompt_the_server_fails_to_give_and_pulls_the_rest(
    app: Flask, prompts: Path, account: Account, transport: Crashing
) -> None:
    for slug in ("a", "b", "c"):
        server_api(account, transport).push("demo", slug, prompt_source(f"{slug} {{{{ name }}}}"))
    server = Hostile(app)
    server.break_when = lambda request: request.url.path.endswith("/prompts/b")
    server.broken = lambda request: answer(500, b"<h1>Internal Server Error</h1>", "text/html")
    result = run_cli(server, "pull", api_key=account.keys["viewer"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert {"a: pulled v1 into prompts/a.yaml", "c: pulled v1 into prompts/c.yaml"} <= set(lines)
    failed = [line for line in lines if line.startswith("error: b: not pulled: ")]
    assert len(failed) == 1 and "500" in failed[0] and len(lines) == 3, lines
    assert sorted(p.name for p in prompts.iterdir()) == ["a.yaml", "c.yaml"]


def test_log_label_diff_render_and_export(run, prompts: Path, tmp_path: Path) -> None:
    write_files(prompts, {"support/greeting.yaml": GREETING, "chat.yaml": CHAT})
    assert run("push", "-m", "first").exit_code == 0
    write_files(prompts, {"support/greeting.yaml": GREETING.replace("Hello", "Hi")})
    assert run("push", "-m", "second\nmore").exit_code == 0
    labelled = run("label", "support/greeting", "staging", "1")
    assert labelled.exit_code == 0 and "staging -> v1" in labelled.stderr
    assert run("label", "support/greeting", "prod").exit_code == 0
    log = run("log", "support/greeting").stdout.splitlines()
    assert log[0].startswith("v2") and "[prod] second" in log[0] and "ann@example.com" in log[0]
    assert log[1].startswith("v1") and "[staging] first" in log[1]
    between = run("diff", "support/greeting", "1", "2").stdout
    assert "-  Hello {{ name }}" in between and "+  Hi {{ name }}" in between
    write_files(prompts, {"support/greeting.yaml": GREETING.replace("Hello", "Hey")})
    local = run("diff", "support/greeting").stdout
    assert "--- support/greeting@v2" in local and "+++ prompts/support/greeting.yaml" in local
    assert "+  Hey" in local
    assert "+  Hey" in run("diff", "support/greeting", "staging").stdout
    text = run("render", "support/greeting", "--label", "staging", "-v", "topic=billing")
    assert text.exit_code == 0 and text.stdout == "Hello there, thanks for asking about billing.\n"
    chat = run("render", "chat", "-v", "question=why?")
    assert json.loads(chat.stdout)[1] == {"role": "user", "content": "why?"}
    missing = run("render", "support/greeting")
    assert missing.exit_code == 1 and "topic" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    out = tmp_path / "bundle.json"
    exported = run("export", "--label", "staging", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    bundle = load_bundle(out)
    assert list(bundle["prompts"]) == ["support/greeting"]
    assert bundle["prompts"]["support/greeting"]["version"] == 1
    assert run("export", "-o", str(out)).exit_code == 0
    assert sorted(load_bundle(out)["prompts"]) == ["chat", "support/greeting"]
    # A label no prompt has (a typo) wrote an empty bundle and exited 0: the app's offline
    # fallback would then have nothing. And "wrote 1 prompts".
    typo = run("export", "--label", "prodution", "-o", str(tmp_path / "typo.json"))
    assert typo.exit_code == 1 and not (tmp_path / "typo.json").exists()
    assert typo.stderr == ("error: no prompt of 'demo' has the label 'prodution': nothing "
                           "written\n")
    assert "wrote 1 prompt (labelled 'staging')" in exported.stderr


def test_lint_is_offline_and_reports_every_problem(
    prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(prompts, {"ok.yaml": GREETING,
                          "bad.yaml": "template: Hi {{ who }}\nvariables: {x: {}}\nfoo: 1\n"})
    (prompts.parent / "promptsync.yaml").write_text("server: http://127.0.0.1:1\ndir: prompts\n")
    result = CliRunner().invoke(cli, ["lint"], obj=Obj())
    assert result.exit_code == 1, result.output
    problems = result.stdout.splitlines()
    assert len(problems) >= 3 and all(p.startswith("prompts/bad.yaml:") for p in problems)
    assert any(":3:1: unknown key 'foo'" in p for p in problems)
    assert "1 ok, 1 with problems" in result.stderr
    only_ok = CliRunner().invoke(cli, ["lint", "prompts/ok.yaml"])
    assert only_ok.exit_code == 0, only_ok.output


def test_unreachable_server_is_one_line(prompts: Path, account: Account) -> None:
    port = free_port()
    sleeps: list[float] = []
    result = CliRunner().invoke(cli, ["--server", f"http://127.0.0.1:{port}", "--api-key",
                                      account.keys["editor"], "status"],
                                obj=Obj(sleep=sleeps.append))
    assert result.exit_code == 1
    *retries, error = result.stderr.splitlines()
    assert error == (f"error: cannot reach http://127.0.0.1:{port} (connection refused after "
                     "4 attempts): is the server running?")
    assert len(retries) == 3 and sleeps == [0.25, 0.5, 1.0]  # each said: test_retry_e2e


def test_wrong_key_says_how_to_log_in(run, prompts: Path, transport: Crashing) -> None:
    result = run_cli(transport, "push", api_key="psk_00000000_nope")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and "wrong or revoked" in line and "promptsync login" in line


def test_unknown_project_and_missing_key(run, prompts: Path, transport: Crashing) -> None:
    result = run("--project", "nope", "status")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: No project 'nope'")
    no_key = run_cli(transport, "status")
    assert no_key.exit_code == 1
    # Keys are kept per server and project: say which project has none (--project fresh).
    assert "no API key for project 'demo' on http://testserver: run promptsync login" in \
        no_key.stderr


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["push"])
    assert result.exit_code == 1
    assert "not in a promptsync repository" in result.stderr and "promptsync init" in result.stderr


@pytest.mark.parametrize("args", [["-h"], ["push", "-h"], ["render", "-h"], ["get", "-h"]])
def test_dash_h_is_help_everywhere(args: list[str]) -> None:
    # What most users type first; click answered "No such option: -h" (exit 2).
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ") and "--help" in result.stdout


def test_a_path_that_matches_nothing_is_an_error(run, prompts: Path) -> None:
    # A typo in a PATH argument said "nothing to push: everything is in sync" and exit 0.
    write_files(prompts, {"support/greeting.yaml": GREETING})
    (prompts / "empty").mkdir()
    assert run("push").exit_code == 0
    for command in ("push", "pull", "status"):
        result = run(command, "prompts/support/greting.yaml")
        assert result.exit_code == 1, (command, result.output)
        assert result.stderr == ("error: prompts/support/greting.yaml: no prompt file there "
                                 "nor prompt on the server\n")
        both = run(command, "prompts/support/greeting.yaml", "prompts/empty")
        assert both.exit_code == 1 and "prompts/empty: no prompt file there" in both.stderr
    (prompts / "support/greeting.yaml").unlink()  # a deleted file still names its prompt
    assert run("status", "prompts/support/greeting.yaml").exit_code == 0
    assert run("push", "prompts/support/greeting.yaml").exit_code == 0


def test_export_to_dash_is_refused_not_a_file_named_dash(run, prompts: Path) -> None:
    # backup -o - writes to stdout; export -o - silently wrote a file named "-".
    result = run("export", "-o", "-")
    assert result.exit_code == 2 and "'-' is not stdout here" in result.stderr
    assert not (prompts.parent / "-").exists()


def test_export_into_a_missing_folder_names_the_file_asked_for(run, prompts: Path,
                                                                tmp_path: Path) -> None:
    # It named the hidden temporary file: "error: …/.b.json.ts8r4fws.tmp: No such file …".
    target = tmp_path / "missing" / "b.json"
    result = run("export", "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr == f"error: cannot write {target}: No such file or directory\n"


def test_a_message_with_a_control_character_is_refused_before_anything_is_sent(
        run, prompts: Path) -> None:
    # It reached the server, whose batch answered "'prompts[0].message' contains …".
    write_files(prompts, {"support/greeting.yaml": GREETING})
    result = run("push", "-m", "fix \x1b[31mred")
    assert result.exit_code == 2
    assert "Invalid value for '-m': contains the control character U+001B" in result.stderr
    assert "prompts[0]" not in result.stderr
    assert run("push", "-m", "line one\nline two\ttab").exit_code == 0


def test_init_refuses_a_project_name_that_no_project_can_have(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "Support Bot" (the display name) was written, and every later command said
    # "No project 'Support Bot' on the server".
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init", "--project", "Support Bot"])
    assert result.exit_code == 2
    assert ("'Support Bot' is not a project slug: 1-63 characters of a-z, 0-9 and '-'"
            in result.stderr)
    assert not (tmp_path / "promptsync.yaml").exists()
    assert CliRunner().invoke(cli, ["init", "--project", "support-bot"]).exit_code == 0


def test_a_global_option_after_the_command_says_where_it_goes() -> None:
    # "promptsync status --project demo" said only "No such option '--project'".
    result = CliRunner().invoke(cli, ["status", "--project", "demo"])
    assert result.exit_code == 2
    assert ("No such option '--project': an option of promptsync itself goes before the "
            "command (promptsync --project … status)") in result.stderr
    other = CliRunner().invoke(cli, ["status", "--frobnicate"])
    assert other.exit_code == 2 and "before the command" not in other.stderr


def test_usage_errors_exit_2(run, prompts: Path) -> None:
    assert run("get", "a", "--version", "1", "--label", "x").exit_code == 2
    assert run("render", "a", "-v", "novalue").exit_code == 2
    twice = run("render", "a", "-v", "topic=a", "-v", "topic=b")  # the last one won, silently
    assert twice.exit_code == 2 and "-v gives 'topic' twice" in twice.stderr
    assert run("frobnicate").exit_code == 2


def test_debug_shows_the_real_exception(prompts: Path) -> None:
    result = CliRunner().invoke(cli, ["--debug", "--server", f"http://127.0.0.1:{free_port()}",
                                      "--api-key", "psk_x", "status"])
    assert result.exit_code == 1
    assert isinstance(result.exception, PromptSyncError)


def test_ctrl_c_mid_push_exits_130_and_creates_no_duplicate(
    run, prompts: Path, account: Account, transport: Crashing
) -> None:
    write_files(prompts, {"a.yaml": prompt_source()})
    transport.crash_on_post = True
    result = run("push")
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.stderr
    state = SyncState.load(prompts.parent / ".promptsync", SERVER, "demo")
    assert [p.slug for p in state.journal] == ["a"]
    again = run("push")
    assert again.exit_code == 0, again.output
    assert "nothing to push" in again.stderr
    versions = server_api(account, transport).versions("demo", "a")
    assert [v["version"] for v in versions] == [1]


def test_large_push_shows_progress_and_a_summary(run, prompts: Path) -> None:
    write_files(prompts, {f"bulk/p{n:03}.yaml": prompt_source(f"{n} {{{{ name }}}}")
                          for n in range(120)})
    result = run("push")
    assert result.exit_code == 0, result.output
    assert "pushing" in result.stderr and "pushed 120 new versions" in result.stderr
    dry = run("push", "--dry-run")
    assert dry.exit_code == 0 and "nothing to push" in dry.stderr


def test_login_explains_a_secure_cookie_over_plain_http(sqlite_app: Flask, repo: Path) -> None:
    production_like = sqlite_app  # SESSION_COOKIE_SECURE stays on
    account = make_account(production_like, email="bo@example.com", project="demo")
    result = run_cli(httpx.WSGITransport(app=production_like), "login", "--email", account.email,
                     "--password-stdin", input=account.password + "\n")
    assert result.exit_code == 1
    assert "session cookie" in result.stderr and "https" in result.stderr
