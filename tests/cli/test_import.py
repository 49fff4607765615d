"""`promptsync import` in this process: text, Markdown, CSV, Prompty and Dotprompt sources to
prompt files that lint clean and render back to the source text exactly; names, collisions,
logic, dry runs and files that are never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from promptsync.cli import cli
from promptsync.cli.context import Obj
from promptsync.format.prompt import parse_prompt
from promptsync.importing.names import slug_segment
from tests.support.live import write_files
from tests.support.prompt_corpus import TEXTS


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=Obj())


def imported(repo: Path, slug: str) -> tuple[str, object]:
    """The file written for ``slug`` and what it renders with no variables."""
    text = (repo / "prompts" / f"{slug}.yaml").read_text("utf-8")
    prompt = parse_prompt(text)
    return text, prompt.render() if not prompt.variables else prompt


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "segment"), [
    ("Code Review", "code-review"), ("Переводчик", "perevodchik"), ("你好", "nihao"),
    ("Café  Crème!!", "cafe-creme"), ("greeting.en", "greeting.en"), ("--x--", "x"),
    ("Act as a 'Linux Terminal'", "act-as-a-linux-terminal"), ("UPPER_case", "upper_case"),
])
def test_slug_segment(name: str, segment: str) -> None:
    assert slug_segment(name).segment == segment


def test_a_name_with_nothing_to_keep_is_named_from_its_hash_stably() -> None:
    first, again = slug_segment("!!!"), slug_segment("!!!")
    assert first == again and first.hashed and first.segment.startswith("prompt-")
    assert slug_segment("???").segment != first.segment
    assert len(slug_segment("word " * 100).segment) <= 80


# --- text and Markdown: the text exactly ----------------------------------------------------------


def test_every_corpus_text_is_imported_exactly(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path / "src", {f"{name}.md": text.encode("utf-8")
                                   for name, text in TEXTS.items()})
    result = run("import", str(tmp_path / "src"))
    assert result.exit_code == 0, result.output
    for name, text in TEXTS.items():
        written, rendered = imported(repo, name)
        assert rendered == text, (name, written)
    assert run("lint").exit_code == 0
    styles = {name: imported(repo, name)[0].split("\n", 1)[0] for name in TEXTS}
    assert styles["several-finals"] == "template: |+"
    assert styles["no-final-newline"] == "template: |-"
    assert styles["leading-spaces"] == "template: |2"
    assert styles["code-block"] == "template: |"
    assert styles["crlf"].startswith('template: "line one\\r\\n\\')
    assert f"imported {len(TEXTS)}, 0 skipped" in result.stderr


def test_a_bom_and_non_utf8_files(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path / "src", {"bom.txt": b"\xef\xbb\xbfHi {{x}}\n",
                                   "latin1.txt": "caf\xe9\n".encode("latin-1")})
    result = run("import", str(tmp_path / "src"))
    assert result.exit_code == 1
    assert imported(repo, "bom")[1] == "Hi {{x}}\n"  # the byte order mark is no text
    assert "skipped src/latin1.txt: not UTF-8 (invalid byte 0xe9 on line 1)" in \
        result.stderr.replace(str(tmp_path) + "/", "")
    assert not (repo / "prompts" / "latin1.yaml").exists()


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_columns_by_default_and_by_option(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path, {
        "roles.csv": 'act,prompt,for_devs\n"Linux Terminal","Act as a terminal.\r\nShow '
                     '{{output}} only.",TRUE\n"Переводчик","Переведи:\n\n""{{text}}""\n",'
                     'FALSE\n,"no name here",FALSE\n\n',
        "custom.csv": "Title,Body,Owner\nFirst,  starts with spaces\t,ann\n",
    })
    result = run("import", str(tmp_path / "roles.csv"))
    assert result.exit_code == 0, result.output
    assert imported(repo, "linux-terminal")[1] == "Act as a terminal.\r\nShow {{output}} only."
    assert imported(repo, "perevodchik")[1] == 'Переведи:\n\n"{{text}}"\n'
    assert imported(repo, "roles-3")[1] == "no name here"
    written = parse_prompt(imported(repo, "linux-terminal")[0])
    assert written.metadata == {"for_devs": "TRUE"}
    assert "non-ASCII names transliterated to ASCII (anyascii)" in result.stderr
    assert "renamed, 'Переводчик' transliterated" in result.stderr

    refused = run("import", str(tmp_path / "custom.csv"))
    assert refused.exit_code == 1
    assert ("no column named prompt or text or template or content or system_prompt or "
            "instructions: name it with --text-column; the columns are: Title, Body, Owner"
            ) in refused.stderr
    chosen = run("import", "--name-column", "title", "--text-column", "2", "--prefix", "team/",
                 str(tmp_path / "custom.csv"))
    assert chosen.exit_code == 0, chosen.output
    assert imported(repo, "team/first")[1] == "  starts with spaces\t"
    assert parse_prompt(imported(repo, "team/first")[0]).metadata == {"Owner": "ann"}
    wrong = run("import", "--text-column", "Nope", str(tmp_path / "custom.csv"))
    assert "no column 'Nope' (--text-column); the columns are: Title, Body, Owner" in wrong.stderr


# --- names that collide, files that exist -----------------------------------------------------


def test_collisions_are_disambiguated_reported_and_nothing_is_overwritten(
    repo: Path, tmp_path: Path
) -> None:
    existing = {"greeting.yaml": "template: mine\n", "notes.yml": "template: also mine\n",
                "Upper.YAML": "template: odd\n"}
    write_files(repo / "prompts", existing)
    write_files(tmp_path / "src", {
        "Greeting.md": "one\n", "greeting.txt": "two\n", "notes.md": "three\n",
        "upper.md": "four\n", "list.csv": "name,prompt\nDup,a\ndup,b\nDUP ,c\n",
    })
    before = snapshot(repo / "prompts")
    result = run("import", str(tmp_path / "src"))
    assert result.exit_code == 0, result.output
    assert {k: v for k, v in snapshot(repo / "prompts").items() if k in before} == before
    assert imported(repo, "greeting-2")[1] == "one\n"
    assert imported(repo, "greeting-3")[1] == "two\n"
    assert imported(repo, "notes-2")[1] == "three\n"
    assert imported(repo, "upper-2")[1] == "four\n"
    assert [imported(repo, s)[1] for s in ("dup", "dup-2", "dup-3")] == ["a", "b", "c"]
    err = result.stderr.replace(str(tmp_path) + "/", "")
    assert "imported src/Greeting.md as greeting-2 (prompts/greeting-2.yaml): renamed, " \
           "'greeting' is taken by the existing greeting.yaml" in err
    assert "imported src/greeting.txt as greeting-3 (prompts/greeting-3.yaml): renamed, " \
           "'greeting' is taken by the existing greeting.yaml" in err
    assert "as dup-2 (prompts/dup-2.yaml): renamed, 'dup' is taken by src/list.csv row 1" in err
    assert "imported 7 (6 renamed), 0 skipped" in err

    again = run("import", str(tmp_path / "src"))
    assert again.exit_code == 0 and "imported 0, 7 already there, 0 skipped" in again.stderr
    assert len(snapshot(repo / "prompts")) == len(before) + 7


def test_dry_run_lists_and_writes_nothing(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path / "src", {"a.md": "A\n", "b/c.txt": "C {{x}}"})
    result = run("import", "--dry-run", str(tmp_path / "src"))
    assert result.exit_code == 0, result.output
    assert result.stdout.replace(str(tmp_path) + "/", "").splitlines() == [
        "would import src/a.md as a (prompts/a.yaml)",
        "would import src/b/c.txt as b/c (prompts/b/c.yaml)",
    ]
    assert "would import 2, 0 skipped" in result.stderr
    assert snapshot(repo / "prompts") == {}


def test_bad_prefix_and_unknown_files(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path / "src", {"a.md": "A\n", "image.png": b"\x89PNG", ".hidden.md": "x"})
    bad = run("import", "--prefix", "Team X/", str(tmp_path / "src"))
    assert bad.exit_code == 1 and "--prefix Team X/: the path segment 'Team X'" in bad.stderr
    result = run("import", str(tmp_path / "src"))
    assert result.exit_code == 1
    assert "image.png: not a format import reads" in result.stderr
    assert "imported 1, 1 skipped" in result.stderr
    forced = run("import", "--format", "text", str(tmp_path / "src" / "a.md"))
    assert "already there" in forced.stderr


# --- Prompty and Dotprompt --------------------------------------------------------------------

PROMPTY = """\
---
name: Support Answer
description: Answers a support question
authors: [ann]
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-4o-mini
    api_version: 2024-07-01-preview
  parameters: {max_tokens: 300, temperature: 0.2}
inputs:
  customer: {type: string, description: first name, default: there}
  question: {type: string, description: what they asked}
  unused: {type: string}
sample: {customer: Ann, question: Where is my order?}
---
# system:
You help {{customer}}. Quote code as-is, e.g. `{{ "{{" }}`? No: plain text only.

user:
{{ question }}

assistant:
Sure.
"""

DOTPROMPT = """\
---
model: googleai/gemini-1.5-flash
config: {temperature: 0.7, topK: 20}
input:
  schema:
    name: string, the customer's name
    style?: string
  default: {style: formal}
output: {format: json}
---
{{role "system"}}
Be {{style}}. Write Handlebars as \\{{this}}.

{{ role "user" }}
Hi, I am {{{name}}}.
{{role "model"}}
Hello.
"""


def test_prompty_variables_roles_and_model_settings(repo: Path, tmp_path: Path) -> None:
    source = PROMPTY.replace('Quote code as-is, e.g. `{{ "{{" }}`? No: plain text only.',
                             "Be brief.")
    write_files(tmp_path, {"support.prompty": source})
    result = run("import", str(tmp_path / "support.prompty"))
    assert result.exit_code == 0, result.output
    assert "note: not used in the template, so not declared: unused" in result.stderr
    prompt = parse_prompt((repo / "prompts" / "support.yaml").read_bytes())
    assert prompt.description == "Answers a support question"
    assert prompt.model == "gpt-4o-mini"
    assert prompt.params == {"max_tokens": 300, "temperature": 0.2}
    assert prompt.variables == {
        "customer": {"description": "first name", "default": "there", "required": False},
        "question": {"description": "what they asked", "default": None, "required": True},
    }
    assert prompt.metadata["name"] == "Support Answer"
    assert prompt.metadata["model_settings"]["configuration"]["api_version"] == "2024-07-01-preview"
    assert prompt.render(question="Where?") == [
        {"role": "system", "content": "You help there. Be brief."},
        {"role": "user", "content": "Where?"},
        {"role": "assistant", "content": "Sure."},
    ]


def test_dotprompt_schema_defaults_roles_and_escapes(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path, {"greet.prompt": DOTPROMPT})
    result = run("import", str(tmp_path / "greet.prompt"))
    assert result.exit_code == 0, result.output
    prompt = parse_prompt((repo / "prompts" / "greet.yaml").read_bytes())
    assert (prompt.model, prompt.params) == ("googleai/gemini-1.5-flash",
                                             {"temperature": 0.7, "topK": 20})
    assert prompt.variables["name"]["description"] == "the customer's name"
    assert prompt.variables["style"]["default"] == "formal"
    assert prompt.metadata == {"source_format": "dotprompt", "output": {"format": "json"}}
    assert prompt.render(name="Ann") == [
        {"role": "system", "content": "Be formal. Write Handlebars as {{this}}."},
        {"role": "user", "content": "Hi, I am Ann."},
        {"role": "assistant", "content": "Hello."},
    ]


def test_a_body_without_roles_is_a_text_prompt_kept_exactly(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path, {"plain.prompt": "---\nmodel: m\n---\nHello {{name}}!\n\n",
                           "bare.prompty": "Just {{ thing }}"})
    assert run("import", str(tmp_path / "plain.prompt"), str(tmp_path / "bare.prompty")
               ).exit_code == 0
    plain = parse_prompt((repo / "prompts" / "plain.yaml").read_bytes())
    assert plain.render(name="Ann") == "Hello Ann!\n\n" and plain.model == "m"
    assert parse_prompt((repo / "prompts" / "bare.yaml").read_bytes()).render(thing="x") == \
        "Just x"


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("if.prompt", "{{#if vip}}Dear {{name}}{{/if}}", "template logic '{{#if vip}}' (line 1"),
    ("each.prompt", "x\n{{#each items}}{{this}}{{/each}}", "template logic '{{#each items}}' (li"),
    ("partial.prompt", "{{> header}}\nHi", "template logic '{{> header}}'"),
    ("dotted.prompt", "Hi {{user.name}}", "template logic '{{user.name}}'"),
    ("history.prompt", "{{history}}x{{role \"user\"}}y", "template logic '{{history}}'"),
    ("jinja.prompty", "{% for x in xs %}{{x}}{% endfor %}", "template logic '{% for x in xs %}'"),
    ("comment.prompty", "{# note #}Hi", "template logic '{# note #}'"),
    ("filter.prompty", "Hi {{ name | upper }}", "template logic '{{ name | upper }}'"),
    ("thread.prompty", "system:\nx\n![thread]\n", "'![thread]' is not supported here"),
    ("raw.md", "Use:\n{% raw %}{{ x }}{% endraw %}\n", "'{% raw %}' on line 2 reads as template"),
    ("open.prompty", "Hi {{ name", "'{{' on line 1 of the body is not closed"),
])
def test_logic_is_reported_and_the_file_skipped(
    repo: Path, tmp_path: Path, name: str, content: str, reason: str
) -> None:
    write_files(tmp_path, {name: content})
    result = run("import", str(tmp_path / name))
    assert result.exit_code == 1, result.output
    assert f"skipped {tmp_path / name}: {reason}" in result.stderr, result.stderr
    assert snapshot(repo / "prompts") == {}


def test_an_imported_file_is_yaml_a_person_can_read(repo: Path, tmp_path: Path) -> None:
    write_files(tmp_path, {"greet.prompt": DOTPROMPT})
    run("import", str(tmp_path / "greet.prompt"))
    data = yaml.safe_load((repo / "prompts" / "greet.yaml").read_text())
    assert list(data) == ["model", "params", "variables", "metadata", "messages"]
    assert (repo / "prompts" / "greet.yaml").read_text().endswith(
        "  - role: assistant\n    content: |-\n      Hello.\n")


def test_a_source_over_its_limit_names_that_limit(repo: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A CSV over its own limit (64 MiB) was said to pass "a prompt file holds at most 256 KiB".
    from promptsync.importing import run as importing

    monkeypatch.setattr(importing, "MAX_SOURCE_BYTES", 1000)
    write_files(tmp_path / "src", {"many.csv": "name,prompt\n" + "a,b\n" * 300,
                                   "one.md": "x" * (256 * 1024 + 1)})
    result = run("import", str(tmp_path / "src"))
    assert f"skipped {tmp_path / 'src/many.csv'}: it is 1212 bytes; a CSV import reads at most " \
           "1000 bytes: split it" in result.stderr, result.stderr
    assert f"skipped {tmp_path / 'src/one.md'}: it is 262145 bytes; a prompt file holds at most " \
           "262144 bytes (256 KiB)" in result.stderr, result.stderr
