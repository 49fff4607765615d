"""`promptsync export` of prompts that include partials (SPEC §7, §13), against a real server:
the bundle carries each includer's resolved includes and their sources, so once the server is
stopped the Client's offline render gives the very text the server rendered, by label and at
latest, nested and pinned includes too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptsync.client.bundle import load_bundle, write_bundle
from promptsync.client.sdk import Client
from promptsync.errors import BundleError, PromptSyncError, RenderError, ServerUnreachable
from promptsync.format.prompt import source_sha256
from tests.support.cli import run_cli
from tests.support.live import LiveServer, create_account, create_key

PASSWORD = "correct horse battery"
VARIABLES = {"name": "Ann", "team": "Support"}
SIGN = "template: 'Sign as {{ team }}.'\n"
TONE = ["template: 'Be kind, {{ name }}. {{> shared/sign }}'\n",
        "template: 'Be brief, {{ name }}.'\n"]
OUTER = ["template: 'Hi. {{> shared/tone }} ({{> shared/tone@2 }})'\n",
         "template: 'Hello. {{> shared/tone@production }} {{> shared/tone }}'\n"]


def _seed(api: httpx.Client) -> None:
    """shared/sign v1; shared/tone v1 (includes sign, production) and v2; support/outer v1
    (production) and v2, each including tone by the default ref and by a pinned one."""
    steps: list[tuple[str, str, Any]] = [
        ("push", "shared/sign", SIGN), ("push", "shared/tone", TONE[0]),
        ("push", "shared/tone", TONE[1]), ("label", "shared/tone", 1),
        ("push", "support/outer", OUTER[0]), ("push", "support/outer", OUTER[1]),
        ("label", "support/outer", 1)]
    for step, slug, value in steps:
        if step == "push":
            answer = api.post(f"/prompts/{slug}", json={"source": value})
        else:
            answer = api.put(f"/prompts/{slug}/-/labels/production", json={"version": value})
        assert answer.status_code in (200, 201), answer.text


def _render(api: httpx.Client, variables: dict[str, str] = VARIABLES, **ref: Any) -> str:
    answer = api.post("/prompts/support/outer/-/render", json={"variables": variables, **ref})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["text"])


@pytest.mark.usefixtures("isolated_env")
def test_an_offline_render_of_an_includer_is_the_servers(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "server").start()
    try:
        create_account(server.url, "ann@example.com", PASSWORD, "demo")
        key = create_key(server.url, "ann@example.com", PASSWORD, "demo", "admin")
        with httpx.Client(base_url=f"{server.url}/api/v1/projects/demo",
                          headers={"X-API-Key": key}, timeout=10) as api:
            _seed(api)
            expected = {"production": _render(api, label="production"),
                        None: _render(api), "pinned": _render(api, {"name": "Ann"}, version=1)}
        for label, name in [("production", "prod.json"), (None, "latest.json")]:
            made = run_cli(httpx.HTTPTransport(), "--server", server.url, "--project", "demo",
                           "export", *(["--label", label] if label else []),
                           "-o", str(tmp_path / name), api_key=key)
            assert made.exit_code == 0, made.output
    finally:
        server.stop()
    # What the server rendered, nested include and pinned one included.
    assert expected == {
        "production": "Hi. Be kind, Ann. Sign as Support. (Be brief, Ann.)",
        None: "Hello. Be kind, Ann. Sign as Support. Be brief, Ann.",
        "pinned": "Hi. Be brief, Ann. (Be brief, Ann.)"}
    bundle = load_bundle(tmp_path / "prod.json")
    assert sorted(map(str, bundle["prompts"]["support/outer"]["includes"])) == sorted(map(str, [
        {"slug": "shared/sign", "ref": "latest", "version": 1},
        {"slug": "shared/tone", "ref": "production", "version": 1},
        {"slug": "shared/tone", "ref": "2", "version": 2}]))
    assert [(p["slug"], p["version"]) for p in bundle["partials"]] == [
        ("shared/sign", 1), ("shared/tone", 1), ("shared/tone", 2)]

    # The server is gone: each render comes from a bundle, and is the server's text.
    offline = Client(server.url, api_key=key, project="demo", bundle=tmp_path / "prod.json",
                     timeout=1)
    assert offline.get("support/outer", label="production").render(VARIABLES) == (
        expected["production"])
    latest = Client(server.url, api_key=key, project="demo", bundle=tmp_path / "latest.json",
                    timeout=1)
    assert latest.get("support/outer").render(VARIABLES) == expected[None]
    with pytest.raises(ServerUnreachable):
        latest.get("support/outer", version=1)  # not in that bundle: nothing to serve
    # The partials' variables joined the contract offline too: `team` is required.
    with pytest.raises(RenderError) as missing:
        offline.get("support/outer", label="production").render(name="Ann")
    assert missing.value.missing == ["team"]
    # v1 by number includes the partial's latest on the server, which this bundle (made at
    # production) does not hold: its render refuses rather than give another text.
    with pytest.raises(PromptSyncError, match="includes shared/tone, not resolved"):
        offline.get("support/outer", version=1).render(VARIABLES)


def test_a_bundle_whose_partials_were_edited_is_refused(tmp_path: Path) -> None:
    outer = {"slug": "support/outer", "version": 1, "source": OUTER[0], "labels": [],
             "includes": [{"slug": "shared/tone", "ref": "latest", "version": 2}]}
    path = tmp_path / "bundle.json"
    write_bundle(path, "demo", None, [outer], [
        {"slug": "shared/tone", "version": 2, "source": TONE[1]},
        {"slug": "shared/tone", "version": 2, "source": TONE[1]}])  # named twice, kept once
    assert load_bundle(path)["partials"] == [{"slug": "shared/tone", "version": 2,
                                              "sha256": source_sha256(TONE[1]),
                                              "source": TONE[1]}]
    for edit in ({"source": TONE[0]}, {"sha256": "0" * 64}, {"version": "2"}):
        data = json.loads(path.read_text())
        data["partials"][0].update(edit)
        path.write_text(json.dumps(data))
        with pytest.raises(BundleError, match="a partial does not match its sha256"):
            load_bundle(path)
    data["partials"] = []
    data["prompts"]["support/outer"]["includes"] = [{"slug": "shared/tone"}]
    path.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="malformed includes"):
        load_bundle(path)
