"""Partials resolved purely through an injected lookup: selectors, nesting, cycles, escapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from promptsync.cli import cli
from promptsync.cli.context import Obj
from promptsync.errors import PromptFileError, RenderError
from promptsync.format.partials import (
    Found,
    Include,
    PartialError,
    expand,
    includes_in,
    prompt_includes,
)
from promptsync.format.prompt import Prompt, parse_prompt

# slug -> {version: source}; labels: slug -> {label: version}
CORPUS: dict[str, dict[int, str]] = {
    "shared/tone": {
        1: "template: 'Be brief.'\n",
        2: "template: 'Be kind, {{ name }}.'\n",
        3: "variables:\n  mood: {default: calm}\ntemplate: 'Stay {{ mood }}.'\n",
    },
    "shared/outer": {1: "template: '[{{> shared/tone@1 }}]'\n"},
    "cyc/a": {1: "template: 'A {{> cyc/b }}'\n"},
    "cyc/b": {1: "template: 'B {{> cyc/c }}'\n"},
    "cyc/c": {1: "template: 'C {{> cyc/a }}'\n"},
    "chat/one": {1: "messages:\n  - {role: user, content: hi}\n"},
}
LABELS = {"shared/tone": {"production": 1, "staging": 2}}


def lookup(slug: str, version: int | None, label: str | None) -> Found | None:
    versions = CORPUS.get(slug)
    if versions is None:
        return None
    if label is not None:
        version = LABELS.get(slug, {}).get(label)
        if version is None:
            return None
    number = max(versions) if version is None else version
    if number not in versions:
        return None
    return Found(parse_prompt(versions[number]), number, f"sha-{slug}-{number}")


def text(source: str) -> Prompt:
    return parse_prompt(source)


@pytest.mark.parametrize(("written", "include"), [
    ("{{> shared/tone }}", Include("shared/tone")),
    ("{{>shared/tone}}", Include("shared/tone")),
    ("{{> shared/tone@production }}", Include("shared/tone", label="production")),
    ("{{> shared/tone@3 }}", Include("shared/tone", version=3)),
])
def test_include_syntax(written: str, include: Include) -> None:
    assert includes_in(f"x {written} y") == [include]


def test_escaped_partial_is_literal_text() -> None:
    prompt = text("template: 'a \\{{> shared/tone }} b'\n")
    assert prompt_includes(prompt) == []
    assert expand("p", prompt, lookup).prompt.render() == "a {{> shared/tone }} b"


def test_selectors_latest_label_version() -> None:
    latest = expand("p", text("template: '{{> shared/tone }}'\n"), lookup)
    assert latest.prompt.render() == "Stay calm."
    assert [i.to_dict() for i in latest.includes] == [
        {"slug": "shared/tone", "ref": "latest", "version": 3}]
    by_label = expand("p", text("template: '{{> shared/tone@staging }}'\n"), lookup)
    assert by_label.prompt.render(name="Ann") == "Be kind, Ann."
    by_version = expand("p", text("template: '{{> shared/tone@1 }}'\n"), lookup)
    assert by_version.prompt.render() == "Be brief."
    assert by_version.includes[0].ref == "1"


def test_default_follows_the_fetch_label_else_latest() -> None:
    prompt = text("template: '{{> shared/tone }}'\n")
    assert expand("p", prompt, lookup, label="production").prompt.render() == "Be brief."
    # The partial has no label 'beta': its latest is included.
    fallback = expand("p", prompt, lookup, label="beta")
    assert fallback.prompt.render() == "Stay calm."
    assert fallback.includes[0].ref == "latest"


def test_included_variables_join_the_contract() -> None:
    prompt = text("variables:\n  who: {required: true}\n"
                  "template: '{{ who }}: {{> shared/tone@2 }}'\n")
    out = expand("p", prompt, lookup).prompt
    assert set(out.variables) == {"who", "name"}
    assert out.render(who="Bo", name="Ann") == "Bo: Be kind, Ann."
    with pytest.raises(RenderError) as raised:
        out.render(who="Bo")
    assert raised.value.missing == ["name"]
    # A default of the included prompt still applies.
    assert expand("p", text("template: '{{> shared/tone@3 }}'\n"), lookup).prompt.render(
        mood="hot") == "Stay hot."


def test_an_includer_may_declare_a_variable_only_its_partial_uses() -> None:
    prompt = text("variables:\n  mood: {default: hot}\ntemplate: '{{> shared/tone@3 }}'\n")
    assert expand("p", prompt, lookup).prompt.render() == "Stay hot."
    # Without an include it is still an unused variable.
    with pytest.raises(PromptFileError, match="declared but not used"):
        text("variables:\n  mood: {default: hot}\ntemplate: 'x \\{{> shared/tone }}'\n")


def test_nested_includes_and_chat_messages() -> None:
    prompt = text("messages:\n  - {role: system, content: 'S {{> shared/outer }}'}\n")
    out = expand("p", prompt, lookup)
    assert out.prompt.render() == [{"role": "system", "content": "S [Be brief.]"}]
    assert {(i.slug, i.version) for i in out.includes} == {("shared/outer", 1),
                                                          ("shared/tone", 1)}


def test_three_prompt_cycle_names_the_chain() -> None:
    with pytest.raises(PartialError) as raised:
        expand("cyc/a", lookup("cyc/a", None, None).prompt, lookup)  # type: ignore[union-attr]
    assert raised.value.kind == "cycle"
    assert "cyc/a -> cyc/b -> cyc/c -> cyc/a" in str(raised.value)


def test_self_include_is_a_cycle() -> None:
    with pytest.raises(PartialError, match="x -> x"):
        expand("x", text("template: '{{> x }}'\n"), lookup)


@pytest.mark.parametrize(("written", "named"), [
    ("{{> nope }}", "nope"),
    ("{{> shared/tone@9 }}", "shared/tone@9"),
    ("{{> shared/tone@beta }}", "shared/tone@beta"),
])
def test_missing_target_names_the_chain(written: str, named: str) -> None:
    with pytest.raises(PartialError) as raised:
        expand("p", text(f"template: 'x {written}'\n"), lookup)
    assert raised.value.kind == "missing"
    assert named in str(raised.value) and "p -> " in str(raised.value)


def test_missing_target_deep_in_the_chain() -> None:
    def deep(slug: str, version: int | None, label: str | None) -> Found | None:
        if slug == "mid":
            return Found(text("template: '{{> gone }}'\n"), 1)
        return None

    with pytest.raises(PartialError, match="p -> mid -> gone"):
        expand("p", text("template: '{{> mid }}'\n"), deep)


def test_chat_prompt_cannot_be_included() -> None:
    with pytest.raises(PartialError) as raised:
        expand("p", text("template: '{{> chat/one }}'\n"), lookup)
    assert raised.value.kind == "not_text"


def test_depth_bound() -> None:
    def chain(slug: str, version: int | None, label: str | None) -> Found | None:
        number = int(slug[1:])
        return Found(text(f"template: 'n{{{{> n{number + 1} }}}}'\n"), 1)

    with pytest.raises(PartialError) as raised:
        expand("n0", text("template: '{{> n1 }}'\n"), chain)
    assert raised.value.kind == "depth"


@pytest.mark.parametrize("written", ["{{> Bad }}", "{{> a@ }}", "{{> }}", "{{>a b}}"])
def test_malformed_include_is_a_lint_error(written: str) -> None:
    with pytest.raises(PromptFileError, match="malformed placeholder"):
        parse_prompt(f"template: 'x {written}'\n")


def test_an_include_is_no_undeclared_placeholder() -> None:
    prompt = parse_prompt("variables:\n  a: {}\ntemplate: '{{ a }} {{> shared/tone }}'\n")
    assert prompt.placeholders() == ["a"]


def test_lint_resolves_partials_in_the_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shared").mkdir()
    files = {
        "shared/tone.yaml": "template: 'Be kind, {{ name }}.'\n",
        "a.yaml": "template: 'A {{> shared/tone }} {{> b }}'\n",
        "b.yaml": "template: 'B {{> c }}'\n",
        "c.yaml": "template: 'C {{> a }}'\n",
        "gone.yaml": "template: 'x {{> nope }} \\{{> literal }}'\n",
        "ok.yaml": "template: '{{> shared/tone }} {{> shared/tone@production }}'\n",
    }
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    result = CliRunner().invoke(cli, ["lint", "."], obj=Obj())
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert "a.yaml: include cycle: a -> b -> c -> a" in lines
    assert "gone.yaml: included prompt nope is not in the tree (gone -> nope)" in lines
    assert not any(line.startswith(("ok.yaml", "shared/")) for line in lines)
    assert "ok.yaml: not judged offline: {{> shared/tone@production }}" in result.stderr
    assert "2 ok, 4 with problems" in result.stderr
