r"""The \{{ escape through the real app on SQLite and Postgres: the API's render, the Client's
render and the admin's rendered view give back each corpus text exactly."""

from __future__ import annotations

import httpx
import pytest
from flask import Flask

from promptsync import Client
from promptsync.format.emit import text_scalar
from promptsync.format.templates import escape_braces
from tests.support.app import IN_PROCESS, Account, login
from tests.support.prompt_corpus import TEXTS

BASE = "/api/v1/projects/demo/prompts"
# Literal braces beside a real placeholder, in a text and in a chat prompt.
MIXED = "Show \\{{ name }} in Handlebars, then greet {{ who }}.\n"
CHAT = ("variables:\n  who: {}\nmessages:\n  - role: system\n    content: |\n"
        "      Quote \\{{code here}} as is.\n  - role: user\n    content: 'Hi {{who}} \\{{x}}'\n")


def _sources() -> dict[str, str]:
    sources = {f"corpus/{name}": "template: " + text_scalar(escape_braces(text), 2, 0)
               for name, text in TEXTS.items()}
    sources["mixed"] = "variables:\n  who: {}\ntemplate: " + text_scalar(MIXED, 2, 0)
    sources["chat"] = CHAT
    return sources


@pytest.fixture
def pushed(app: Flask, account: Account) -> Account:
    """Every corpus text as a prompt in project demo, pushed in one batch."""
    items = [{"slug": slug, "source": source} for slug, source in _sources().items()]
    answer = app.test_client().post(BASE, json={"prompts": items},
                                    headers=account.headers("editor"))
    assert answer.status_code == 200, answer.get_json()
    assert all(r["version"] == 1 for r in answer.get_json()["results"]), answer.get_json()
    return account


def test_the_server_renders_every_corpus_text_exactly(app: Flask, pushed: Account) -> None:
    web = app.test_client()
    for name, text in TEXTS.items():
        answer = web.post(f"{BASE}/corpus/{name}/-/render", json={"variables": {}},
                          headers=pushed.headers("viewer"))
        assert answer.status_code == 200, (name, answer.get_json())
        assert answer.get_json()["text"] == text, name
    mixed = web.post(f"{BASE}/mixed/-/render", json={"variables": {"who": "Ann"}},
                     headers=pushed.headers("viewer"))
    assert mixed.get_json()["text"] == "Show {{ name }} in Handlebars, then greet Ann.\n"
    # The escaped name is no variable: passing it is an unknown variable, as for any other.
    unknown = web.post(f"{BASE}/mixed/-/render", json={"variables": {"who": "A", "name": "x"}},
                       headers=pushed.headers("viewer"))
    assert unknown.status_code == 422, unknown.get_json()
    chat = web.post(f"{BASE}/chat/-/render", json={"variables": {"who": "Ann"}},
                    headers=pushed.headers("viewer"))
    assert chat.get_json()["messages"] == [
        {"role": "system", "content": "Quote {{code here}} as is.\n"},
        {"role": "user", "content": "Hi Ann {{x}}"},
    ]


def test_the_client_renders_every_corpus_text_exactly(app: Flask, pushed: Account) -> None:
    with Client(IN_PROCESS, api_key=pushed.keys["viewer"], project="demo",
                transport=httpx.WSGITransport(app=app)) as client:
        for name, text in TEXTS.items():
            assert client.get(f"corpus/{name}").render() == text, name
        assert client.get("mixed").render(who="Ann") == (
            "Show {{ name }} in Handlebars, then greet Ann.\n")


def test_the_admin_shows_escaped_braces_as_text_and_marks_placeholders(
    app: Flask, pushed: Account
) -> None:
    web = app.test_client()
    login(web, pushed.email)
    page = web.get("/admin/p/demo/prompts/mixed").get_data(as_text=True)
    assert ('<pre class="code template">Show {{ name }} in Handlebars, then greet '
            '<span class="ph" title="variable who">{{ who }}</span>.\n</pre>') in page
    chat = web.get("/admin/p/demo/prompts/chat").get_data(as_text=True)
    assert '<pre class="msg-content">Quote {{code here}} as is.\n</pre>' in chat
    assert ('<pre class="msg-content">Hi <span class="ph" title="variable who">{{who}}</span> '
            '{{x}}</pre>') in chat
