"""The OpenAPI description: pinned to the routes, valid, browsable offline, and fuzzed."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.app import GREETING, make_account
from tests.support.hostile_inputs import FRAGMENTS, URL_TEXT, Fragment
from webapi.api import prompts as prompts_api
from webapi.openapi.document import openapi_document

PREFIX = "/api/v1"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
CHAT = """\
description: Answers a support question
messages:
  - {role: system, content: "You are a support agent."}
  - {role: user, content: "{{ question }}"}
"""


def _generic(path: str) -> str:
    """A path with every parameter, Flask's <x> or OpenAPI's {x}, written as {}."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _dispatch_table() -> dict[str, set[str]]:
    """The prompt sub-resources `_dispatch` routes by hand: sub -> methods."""
    return {sub: set(methods) for sub, methods in prompts_api.SUB_RESOURCES.items()}


def _code_operations(app: Flask) -> set[tuple[str, str]]:
    """(generic path under /api/v1, method) for every route, prompt sub-resources expanded."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        methods = (rule.methods or set()) & METHODS
        path = rule.rule[len(PREFIX):]
        if path.endswith("/<path:rest>"):
            base = _generic(path[: -len("<path:rest>")]) + "{}"
            for sub, sub_methods in _dispatch_table().items():
                assert sub_methods <= methods, f"{path} does not accept {sub_methods}"
                full = base + (f"/-/{sub}" if sub else "")
                found |= {(full, m) for m in sub_methods}
        else:
            found |= {(_generic(path), m) for m in methods}
    return found


def _documented_operations() -> set[tuple[str, str]]:
    return {
        (_generic(path), method.upper())
        for path, item in openapi_document()["paths"].items()
        for method in item
    }


def test_every_route_is_documented_and_every_documented_route_exists(sqlite_app: Flask) -> None:
    code, documented = _code_operations(sqlite_app), _documented_operations()
    assert code - documented == set(), "routes missing from webapi/openapi/"
    assert documented - code == set(), "documented operations the server does not have"
    # The hand-dispatched sub-resources were found in the code, under both prefixes.
    for base in ("/projects/{}/prompts/{}", "/prompts/{}"):
        assert {(base, "GET"), (base + "/-/labels/{}", "DELETE")} <= code


def test_documented_operations_reach_their_handlers(sqlite_app: Flask) -> None:
    # Routing misses answer 405, or 404 "No such resource."; anything else reached a handler.
    account = make_account(sqlite_app)
    client = sqlite_app.test_client()
    headers = account.headers("viewer")
    for path, item in openapi_document()["paths"].items():
        url = PREFIX + path.format(project="demo", slug="support/greeting", label="staging",
                                   email="ann@example.com", key_id=1, invitation_id=1,
                                   promotion_id=1, webhook_id=1, delivery_id="d")
        # The slug may also arrive percent-encoded: it must reach the same handler.
        for target in {url, url.replace("support/greeting", "support%2Fgreeting")}:
            for method in METHODS:
                response = client.open(target, method=method, headers=headers)
                routed = response.status_code != 405 and (
                    response.get_json() or {}).get("detail") != "No such resource."
                assert routed == (method.lower() in item), (method, target, response.status_code)


def _refs(node: Any) -> Iterator[str]:
    """Every $ref in a document."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_document_is_valid_openapi() -> None:
    document = openapi_document()
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for pointer in _refs(document):
        node: Any = document
        for part in pointer.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"unresolvable $ref {pointer}"
            node = node[part]
    loaded = schemathesis.openapi.from_dict(document)
    loaded.validate()  # against the OpenAPI 3.1 meta-schema
    operations = list(loaded.get_all_operations())
    errors = [str(r.err()) for r in operations if isinstance(r, Err)]
    assert errors == []  # every $ref resolves and every operation is usable
    assert len(operations) == len(ids)


def test_openapi_json_is_served(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi_document()


class _Assets(HTMLParser):
    """Collects every src/href of a page, and the text of its script elements."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in {"src", "href"} and v]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def test_docs_page_uses_only_local_assets(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]
    page = _Assets()
    page.feed(response.get_data(as_text=True))
    assert page.inline_scripts == []
    assert len(page.urls) >= 4
    for url in page.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        with client.get(url) as asset:  # closes the file that send_file opened
            assert asset.status_code == 200, url
            assert len(asset.data) > 0, url
    with client.get("/static/docs/init.js") as asset:
        init = asset.get_data(as_text=True)
    assert '"/openapi.json"' in init and "validatorUrl: null" in init
    assert client.get("/docs/assets/oauth2-redirect.html").status_code == 404
    assert client.get("/docs/").status_code == 200  # typed with a slash: was a JSON 404
    assert client.get("/docs/assets/..%2F__init__.py").status_code == 404


# --- the fuzzing run -------------------------------------------------------------------------
# schemathesis 4.32's pytest plugin does not run under pytest 9 (it reads Node._nodeid), so the
# run drives each operation's strategies directly: its documented examples, then positive and
# negative generation, for every operation, each case sent with a viewer's and with an editor's
# key (one app: the viewer's answers come from what the editor's writes made). About half of
# the generated cases (same count, same run) get one hostile value (tests/support/hostile_inputs)
# in place of a part of the body (raw JSON: bad text, NaN, huge numbers, hostile keys, deep
# nesting), a path parameter, a query argument or If-None-Match.

EXAMPLES = {"examples": 2, "positive": 10, "negative": 5}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance, ignored_auth]


def _seed(app: Flask) -> dict[str, Any]:
    """A project with a text prompt (2 versions, 2 labels) and a chat prompt."""
    account = make_account(app)
    web = app.test_client()
    admin = account.headers("admin")
    base = f"{PREFIX}/projects/{account.project}/prompts"
    for slug, source in [("support/greeting", GREETING), ("support/greeting", GREETING + "#\n"),
                         ("chat/helper", CHAT)]:
        response = web.post(f"{base}/{slug}", json={"source": source}, headers=admin)
        assert response.status_code == 201, response.get_json()
    for label, version in [("staging", 1), ("production", 2)]:
        response = web.put(f"{base}/support/greeting/-/labels/{label}", json={"version": version},
                           headers=admin)
        assert response.status_code == 200, response.get_json()
    return {"project": account.project, "keys": account.keys}


def _aim(case: Any, project: str) -> None:
    """Point most cases at the seeded project and prompts, so the fuzzer gets past the 404s."""
    params = case.path_parameters
    if not params:
        return
    for name, known in [("project", project), ("slug", "support/greeting"), ("label", "staging")]:
        value = params.get(name)
        if isinstance(value, str) and hashlib.sha256(value.encode()).digest()[0] % 4 != 0:
            params[name] = known


HOSTILE = st.none() | st.tuples(st.sampled_from(["body", "body", "body", "path", "query",
                                                 "header"]),
                                st.integers(0, 2**16),
                                # The 100,000-deep bodies are test_inputs.py's: slow to report.
                                st.sampled_from([f for f in FRAGMENTS if len(f.raw) < 10_000]),
                                st.sampled_from(URL_TEXT))
MARK = "zz-hostile-zz"


def _spots(node: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every value inside a JSON body, outermost first."""
    found: list[tuple[Any, Any]] = []
    keys = node.keys() if isinstance(node, dict) else range(len(node))
    for key in list(keys):
        found.append((node, key))
        if isinstance(node[key], dict | list):
            found += _spots(node[key])
    return found


def _poison(case: Any, hostile: tuple[str, int, Fragment, str] | None) -> None:
    """Put one hostile value where the case has a part of that kind."""
    if hostile is None:
        return
    where, pick, fragment, text = hostile
    if where == "body" and isinstance(case.body, dict | list):
        spots = _spots(case.body)
        if spots:
            container, key = spots[pick % len(spots)]
            container[key] = MARK
        elif isinstance(case.body, dict):
            case.body["x"] = MARK
        # Raw bytes, as a client may send them: schemathesis passes bytes on as they are.
        case.body = json.dumps(case.body).encode().replace(f'"{MARK}"'.encode(), fragment.raw, 1)
    elif where == "path" and case.path_parameters:
        names = sorted(case.path_parameters)
        # Not empty: `//` in a path is a routing question, not an input one.
        case.path_parameters[names[pick % len(names)]] = text or "x"
    elif where == "query":
        names = sorted(case.query or {}) or ["x"]
        case.query = {**(case.query or {}), names[pick % len(names)]: text}
    elif where == "header":
        # As a server hands a header over: its bytes as latin-1 text, never a line break.
        value = '"' + text.encode("utf-8").decode("latin-1").replace("\n", " ") + '"'
        case.headers = {**(case.headers or {}), "If-None-Match": value}


def _fuzz(operation: Any, mode: str, project: str, roles: dict[str, dict[str, str]]) -> None:
    if mode == "examples":  # the documented examples, missing parts filled in
        strategy = st.one_of(operation.get_strategies_from_examples())
    else:
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

    @given(case=strategy, hostile=st.none() if mode == "examples" else HOSTILE)
    @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any, hostile: tuple[str, int, Fragment, str] | None) -> None:
        _aim(case, project)
        _poison(case, hostile)
        # Each case is sent with every role's key: generating it costs more than sending it.
        for role, headers in roles.items():
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:
                exc.add_note(f"sent with the {role} key")
                raise

    try:
        run()
    except Unsatisfiable:
        assert mode == "examples"  # an operation that documents no examples


@pytest.mark.slow
def test_fuzz_every_operation(sqlite_app: Flask) -> None:
    app = sqlite_app
    seeded = _seed(app)
    # The viewer first: it sees the project as the editor's cases so far have left it.
    roles = {role: {"X-API-Key": seeded["keys"][role]} for role in ("viewer", "editor")}
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations() if not isinstance(r, Err)]
    assert len(operations) == len(_documented_operations())
    failures = []
    for operation in operations:
        for mode in EXAMPLES:
            try:
                _fuzz(operation, mode, seeded["project"], roles)
            except (Exception, BaseExceptionGroup) as exc:  # collect all, then fail once
                notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", []))
                failures.append(f"{operation.label} [{mode}]: {exc}{notes}")
    assert not failures, "\n\n".join(failures)
