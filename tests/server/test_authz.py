"""Who may do what: every /api/v1 route against every kind of caller, as one readable table.

The world (two projects, their keys, a revoked key, members, a prompt with labels) is built once
per backend; every case that succeeds at a write acts on its own fresh target, so cases stay
independent. Refused writes must leave the database exactly as it was.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.app import (
    BACKENDS,
    GREETING,
    Account,
    add_member,
    dispose_app,
    login,
    make_account,
    make_app,
    signup,
    snapshot,
)
from tests.support.module_database import backend_url

PASSWORD = "correct horse battery"
SLUG = "support/greeting"
CSRF = "csrf"  # 403 with the error code csrf_failed
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               409: "conflict"}

# Columns: anonymous, malformed key, unknown key, revoked key, another project's (admin) key,
# viewer / editor / admin key of the project, session of a user who is not a member, member
# (admin) session with the CSRF token, the same session without it, then the sessions (with the
# CSRF token) of a viewer and of an editor member: a member manages their own keys, no others.
MATRIX = """
route              anon  malf  unkn  revk  forn  view  edit  admn  outs  sess  nocsrf  vsess  esess
signup              201   201   201   201   201   201   201   201   201   201   201    201    201
login               200   200   200   200   200   200   200   200   200   200   200    200    200
logout              401   401   401   401   403   403   403   403   204   204   csrf    204    204
password            401   401   401   401   403   403   403   403   204   204   csrf    204    204
me                  401   401   401   401   200   200   200   200   200   200   200    200    200
projects.list       401   401   401   401   200   200   200   200   200   200   200    200    200
projects.create     401   401   401   401   403   403   403   403   201   201   csrf    201    201
members.list        401   401   401   401   403   403   403   200   404   200   200    403    403
members.put         401   401   401   401   403   403   403   200   404   200   csrf    403    403
members.delete      401   401   401   401   403   403   403   204   404   204   csrf    403    403
members.invite      401   401   401   401   403   403   403   202   404   202   csrf    403    403
invite.accept       401   401   401   401   403   403   403   403   404   404   csrf    404    404
invite.decline      401   401   401   401   403   403   403   403   404   404   csrf    404    404
keys.create         401   401   401   401   403   403   403   201   404   201   csrf    201    201
keys.list           401   401   401   401   403   403   403   200   404   200   200    200    200
keys.delete         401   401   401   401   403   403   403   204   404   204   csrf    403    403
prompts.manifest    401   401   401   401   403   200   200   200   404   200   200    200    200
prompts.batch       401   401   401   401   403   403   200   200   404   200   csrf    403    200
prompt.get          401   401   401   401   403   200   200   200   404   200   200    200    200
prompt.push         401   401   401   401   403   403   201   201   404   201   csrf    403    201
prompt.archive      401   401   401   401   403   403   204   204   404   204   csrf    403    204
prompt.restore      401   401   401   401   403   403   200   200   404   200   csrf    403    200
versions            401   401   401   401   403   200   200   200   404   200   200    200    200
diff                401   401   401   401   403   200   200   200   404   200   200    200    200
label.put           401   401   401   401   403   403   200   200   404   200   csrf    403    200
label.delete        401   401   401   401   403   403   204   204   404   204   csrf    403    204
production.put      401   401   401   401   403   403   403   200   404   200   csrf    403    403
production.delete   401   401   401   401   403   403   403   204   404   204   csrf    403    403
render              401   401   401   401   403   200   200   200   404   200   csrf    200    200
dependents          401   401   401   401   403   200   200   200   404   200   200    200    200
events              401   401   401   401   403   200   200   200   404   200   200    200    200
events.stream       401   401   401   401   403   200   200   200   404   200   200    200    200
events.poll         401   401   401   401   403   200   200   200   404   200   200    200    200
export              401   401   401   401   403   403   403   200   404   200   200    403    403
import              401   401   401   401   403   403   403   409   404   409   csrf    403    403
settings.get        401   401   401   401   403   403   403   200   404   200   200    403    403
settings.put        401   401   401   401   403   403   403   200   404   200   csrf    403    403
promotions.list     401   401   401   401   403   200   200   200   404   200   200    200    200
promotion.approve   401   401   401   401   403   403   403   200   404   200   csrf    403    403
promotion.reject    401   401   401   401   403   403   403   200   404   200   csrf    403    403
label.history       401   401   401   401   403   200   200   200   404   200   200    200    200
webhooks.list       401   401   401   401   403   403   403   200   404   200   200    403    403
webhooks.create     401   401   401   401   403   403   403   201   404   201   csrf    403    403
webhook.get         401   401   401   401   403   403   403   200   404   200   200    403    403
webhook.update      401   401   401   401   403   403   403   200   404   200   csrf    403    403
webhook.delete      401   401   401   401   403   403   403   204   404   204   csrf    403    403
deliveries.list     401   401   401   401   403   403   403   200   404   200   200    403    403
delivery.redeliver  401   401   401   401   403   403   403   202   404   202   csrf    403    403
short.manifest      401   401   401   401   200   200   200   200   400   400   400    400    400
short.get           401   401   401   401   200   200   200   200   400   400   400    400    400
short.batch         401   401   401   401   200   403   200   200   400   400   csrf    400    400
short.push          401   401   401   401   201   403   201   201   400   400   csrf    400    400
short.archive       401   401   401   401   204   403   204   204   400   400   csrf    400    400
short.versions      401   401   401   401   200   200   200   200   400   400   400    400    400
short.production    401   401   401   401   200   403   403   200   400   400   csrf    400    400
short.label.delete  401   401   401   401   204   403   204   204   400   400   csrf    400    400
short.history       401   401   401   401   200   200   200   200   400   400   400    400    400
short.stream        401   401   401   401   200   200   200   200   400   400   400    400    400
"""


def _parse_matrix(table: str) -> tuple[list[str], dict[str, dict[str, int | str]]]:
    header, *rows = [line.split() for line in table.strip().splitlines()]
    callers = header[1:]
    grid = {
        row[0]: {c: (v if v == CSRF else int(v)) for c, v in zip(callers, row[1:], strict=True)}
        for row in rows
    }
    return callers, grid


CALLERS, EXPECTED = _parse_matrix(MATRIX)


@dataclass
class World:
    """Everything the matrix acts on, built once per backend."""

    app: Flask
    owner: Account  # ann: admin of 'demo', keys of every role
    other: Account  # olga: admin of 'other' (her keys are "another project's key")
    revoked: str
    unknown: str
    counter: Iterator[int] = field(default_factory=itertools.count)
    pat_key: str | None = None  # an admin of 'demo' who is none of the callers (made on demand)

    def all_keys(self) -> list[str]:
        return [*self.owner.keys.values(), *self.other.keys.values(), self.revoked]

    def admin(self) -> FlaskClient:
        """A client for setting up a case; it sends the owner's admin key."""
        client = self.app.test_client()
        client.environ_base["HTTP_X_API_KEY"] = self.owner.keys["admin"]
        return client


def _ok(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The shared world on SQLite and Postgres in turn (one database per backend)."""
    url = backend_url(request, tmp_path_factory, "authz")
    app = make_app(url)
    owner = make_account(app, "ann@example.com", "demo")
    other = make_account(app, "olga@example.com", "other")
    web = app.test_client()
    for email in ("bob@example.com", "carol@example.com", "lena@example.com", "dave@example.com"):
        signup(web, email, PASSWORD)
    admin = owner.headers("admin")
    for email, role in (("bob@example.com", "editor"), ("dave@example.com", "viewer")):
        add_member(app, "demo", email, role, admin, PASSWORD)
    _ok(web.post(f"/api/v1/projects/demo/prompts/{SLUG}", json={"source": GREETING},
                 headers=admin), 201)
    _ok(web.post(f"/api/v1/projects/demo/prompts/{SLUG}", json={"source": GREETING + "# v2\n"},
                 headers=admin), 201)
    _ok(web.post(f"/api/v1/projects/other/prompts/{SLUG}", json={"source": GREETING},
                 headers=other.headers("admin")), 201)
    created = _ok(web.post("/api/v1/projects/demo/keys", json={"name": "gone", "role": "admin"},
                           headers=admin), 201)
    revoked = web.delete(f"/api/v1/projects/demo/keys/{created['id']}", headers=admin)
    assert revoked.status_code == 204
    unknown = f"psk_0badf00d_{secrets.token_urlsafe(32)}"
    yield World(app, owner, other, created["key"], unknown)
    dispose_app(app)


# --- the requests: each builds its own target, so a case that succeeds changes nothing shared ---

Request = tuple[str, str, dict[str, Any] | None]
PROMPT = f"/api/v1/projects/demo/prompts/{SLUG}"


def _new_key_id(w: World, n: int) -> int:
    new = {"name": f"k{n}", "role": "viewer"}
    body = _ok(w.admin().post("/api/v1/projects/demo/keys", json=new), 201)
    return int(body["id"])


def _remove_carol(w: World, n: int) -> Request:
    add_member(w.app, "demo", "carol@example.com", "viewer", w.owner.headers("admin"), PASSWORD)
    return "DELETE", "/api/v1/projects/demo/members/carol@example.com", None


def _answer_lena(answer: str) -> Callable[[World, int], Request]:
    # Lena is invited, and is none of the callers: a key never answers an invitation (403),
    # and another user's invitation is not found (404).
    def build(w: World, n: int) -> Request:
        invited = _ok(w.admin().put("/api/v1/projects/demo/members/lena@example.com",
                                    json={"role": "viewer"}), 202)
        return "POST", f"/api/v1/invitations/{invited['invitation']['id']}/{answer}", None

    return build


def _archive(prefix: str) -> Callable[[World, int], Request]:
    # A prompt of its own per case (and one of the same slug in 'other', which another
    # project's key would reach through the key shorthand).
    def build(w: World, n: int) -> Request:
        slug = f"arch/a{n}"
        _ok(w.admin().post(f"/api/v1/projects/demo/prompts/{slug}", json={"source": GREETING}),
            201)
        _ok(w.app.test_client().post(f"/api/v1/projects/other/prompts/{slug}",
                                     json={"source": GREETING}, headers=w.other.headers("admin")),
            201)
        return "DELETE", f"{prefix}/{slug}", None

    return build


def _restore(w: World, n: int) -> Request:
    slug = f"arch/r{n}"
    _ok(w.admin().post(f"/api/v1/projects/demo/prompts/{slug}", json={"source": GREETING}), 201)
    _ok(w.admin().delete(f"/api/v1/projects/demo/prompts/{slug}"), 204)
    return "POST", f"/api/v1/projects/demo/prompts/{slug}/-/restore", None


def _remove_label(label: str, prefix: str = PROMPT) -> Callable[[World, int], Request]:
    def build(w: World, n: int) -> Request:
        _ok(w.admin().put(f"{PROMPT}/-/labels/{label}", json={"version": 1}))
        other = w.app.test_client()
        _ok(other.put(f"/api/v1/projects/other/prompts/{SLUG}/-/labels/{label}",
                      json={"version": 1}, headers=w.other.headers("admin")))
        return "DELETE", f"{prefix}/-/labels/{label}", None

    return build


def _pat_key(w: World) -> str:
    if w.pat_key is None:
        web = w.app.test_client()
        signup(web, "pat@example.com", PASSWORD)
        add_member(w.app, "demo", "pat@example.com", "admin", w.owner.headers("admin"), PASSWORD)
        token = login(web, "pat@example.com", PASSWORD)
        made = web.post("/api/v1/projects/demo/keys", json={"name": "pat", "role": "admin"},
                        headers={"X-CSRF-Token": token})
        w.pat_key = _ok(made, 201)["key"]
    return str(w.pat_key)


def _promotion(verb: str) -> Callable[[World, int], Request]:
    # A pending request of pat's (an admin who is none of the callers, so ann may approve it),
    # on a prompt of its own; approvals are required only while it is opened.
    def build(w: World, n: int) -> Request:
        key, slug, admin = _pat_key(w), f"rel/r{n}", w.admin()
        _ok(admin.post(f"/api/v1/projects/demo/prompts/{slug}", json={"source": GREETING}), 201)
        _ok(admin.put("/api/v1/projects/demo/settings", json={"approvals_required": 1}))
        opened = _ok(w.app.test_client().put(
            f"/api/v1/projects/demo/prompts/{slug}/-/labels/production", json={"version": 1},
            headers={"X-API-Key": key}), 202)
        _ok(admin.put("/api/v1/projects/demo/settings", json={"approvals_required": 0}))
        return "POST", f"/api/v1/projects/demo/promotions/{opened['request']['id']}/{verb}", None

    return build


HOOKS = "/api/v1/projects/demo/webhooks"
HOOK_URL = "https://93.184.215.14/hook"  # a public address, written as one: no DNS


def _webhook(w: World) -> int:
    # One webhook the reading and changing cases share, made on demand; it asked for its own
    # creation event, so it has a delivery to redeliver.
    if "webhook_id" not in w.__dict__:
        made = _ok(w.admin().post(HOOKS, json={"url": HOOK_URL, "events": ["webhook.created"]}),
                   201)
        w.__dict__["webhook_id"] = made["id"]
    return int(w.__dict__["webhook_id"])


def _delete_webhook(w: World, n: int) -> Request:
    made = _ok(w.admin().post(HOOKS, json={"url": HOOK_URL, "events": ["label.moved"]}), 201)
    return "DELETE", f"{HOOKS}/{made['id']}", None


def _redeliver(w: World, n: int) -> Request:
    hook = _webhook(w)
    log = _ok(w.admin().get(f"{HOOKS}/{hook}/deliveries"))["deliveries"]
    return "POST", f"{HOOKS}/{hook}/deliveries/{log[-1]['id']}/redeliver", None


ROUTES: dict[str, Callable[[World, int], Request]] = {
    "signup": lambda w, n: (
        "POST", "/api/v1/auth/signup", {"email": f"new{n}@example.com", "password": PASSWORD}),
    "login": lambda w, n: (
        "POST", "/api/v1/auth/login", {"email": "lena@example.com", "password": PASSWORD}),
    "logout": lambda w, n: ("POST", "/api/v1/auth/logout", None),
    "password": lambda w, n: ("POST", "/api/v1/auth/password",
                              {"current_password": PASSWORD, "new_password": PASSWORD}),
    "me": lambda w, n: ("GET", "/api/v1/me", None),
    "projects.list": lambda w, n: ("GET", "/api/v1/projects", None),
    "projects.create": lambda w, n: ("POST", "/api/v1/projects", {"slug": f"p{n}", "name": "P"}),
    "members.list": lambda w, n: ("GET", "/api/v1/projects/demo/members", None),
    "members.put": lambda w, n: (
        "PUT", "/api/v1/projects/demo/members/bob@example.com", {"role": "editor"}),
    "members.delete": _remove_carol,
    "members.invite": lambda w, n: (
        "PUT", f"/api/v1/projects/demo/members/invitee{n}@example.com", {"role": "viewer"}),
    "invite.accept": _answer_lena("accept"),
    "invite.decline": _answer_lena("decline"),
    "keys.create": lambda w, n: (
        "POST", "/api/v1/projects/demo/keys", {"name": f"k{n}", "role": "viewer"}),
    "keys.list": lambda w, n: ("GET", "/api/v1/projects/demo/keys", None),
    "keys.delete": lambda w, n: (
        "DELETE", f"/api/v1/projects/demo/keys/{_new_key_id(w, n)}", None),
    "prompts.manifest": lambda w, n: ("GET", "/api/v1/projects/demo/prompts", None),
    "prompts.batch": lambda w, n: (
        "POST", "/api/v1/projects/demo/prompts",
        {"prompts": [{"slug": f"batch/b{n}", "source": GREETING}]}),
    "prompt.get": lambda w, n: ("GET", PROMPT, None),
    "prompt.push": lambda w, n: (
        "POST", f"/api/v1/projects/demo/prompts/push/p{n}", {"source": GREETING}),
    "prompt.archive": _archive("/api/v1/projects/demo/prompts"),
    "prompt.restore": _restore,
    "versions": lambda w, n: ("GET", f"{PROMPT}/-/versions", None),
    "diff": lambda w, n: ("GET", f"{PROMPT}/-/diff?from=1&to=2", None),
    "label.put": lambda w, n: ("PUT", f"{PROMPT}/-/labels/staging", {"version": 1}),
    "label.delete": _remove_label("staging"),
    "production.put": lambda w, n: ("PUT", f"{PROMPT}/-/labels/production", {"version": 1}),
    "production.delete": _remove_label("production"),
    "render": lambda w, n: ("POST", f"{PROMPT}/-/render", {"variables": {"topic": "billing"}}),
    "dependents": lambda w, n: ("GET", f"{PROMPT}/-/dependents", None),
    "events": lambda w, n: ("GET", "/api/v1/projects/demo/events", None),
    "events.stream": lambda w, n: ("GET", "/api/v1/projects/demo/events/stream", None),
    "events.poll": lambda w, n: ("GET", "/api/v1/projects/demo/events?after=0&wait=1", None),
    "export": lambda w, n: ("GET", "/api/v1/projects/demo/export", None),
    # An admin gets past authorization to the rule that the project must be empty (409).
    "import": lambda w, n: ("POST", "/api/v1/projects/demo/import",
                            {"format": "promptsync-export", "format_version": 1, "prompts": []}),
    "settings.get": lambda w, n: ("GET", "/api/v1/projects/demo/settings", None),
    # Saves the defaults again: a success changes nothing another case relies on.
    "settings.put": lambda w, n: ("PUT", "/api/v1/projects/demo/settings",
                                  {"approvals_required": 0}),
    "promotions.list": lambda w, n: ("GET", "/api/v1/projects/demo/promotions", None),
    "promotion.approve": _promotion("approve"),
    "promotion.reject": _promotion("reject"),
    "label.history": lambda w, n: ("GET", f"{PROMPT}/-/labels/production/history", None),
    "webhooks.list": lambda w, n: ("GET", HOOKS, None),
    "webhooks.create": lambda w, n: ("POST", HOOKS, {"url": HOOK_URL, "events": ["*"]}),
    "webhook.get": lambda w, n: ("GET", f"{HOOKS}/{_webhook(w)}", None),
    # Enables it again: a success changes nothing another case relies on.
    "webhook.update": lambda w, n: ("PATCH", f"{HOOKS}/{_webhook(w)}", {"enabled": True}),
    "webhook.delete": _delete_webhook,
    "deliveries.list": lambda w, n: ("GET", f"{HOOKS}/{_webhook(w)}/deliveries", None),
    "delivery.redeliver": _redeliver,
    "short.manifest": lambda w, n: ("GET", "/api/v1/prompts", None),
    "short.get": lambda w, n: ("GET", f"/api/v1/prompts/{SLUG}", None),
    "short.batch": lambda w, n: (
        "POST", "/api/v1/prompts", {"prompts": [{"slug": f"batch/s{n}", "source": GREETING}]}),
    "short.push": lambda w, n: ("POST", f"/api/v1/prompts/push/s{n}", {"source": GREETING}),
    "short.archive": _archive("/api/v1/prompts"),
    "short.versions": lambda w, n: ("GET", f"/api/v1/prompts/{SLUG}/-/versions", None),
    "short.production": lambda w, n: (
        "PUT", f"/api/v1/prompts/{SLUG}/-/labels/production", {"version": 1}),
    "short.label.delete": _remove_label("staging", f"/api/v1/prompts/{SLUG}"),
    "short.history": lambda w, n: (
        "GET", f"/api/v1/prompts/{SLUG}/-/labels/production/history", None),
    "short.stream": lambda w, n: ("GET", "/api/v1/events/stream", None),
}


def caller(w: World, name: str) -> tuple[FlaskClient, dict[str, str]]:
    """A client and the headers that make it the named caller."""
    client = w.app.test_client()
    keys = {
        "malf": "not-a-real-key",
        "unkn": w.unknown,
        "revk": w.revoked,
        "forn": w.other.keys["admin"],
        "view": w.owner.keys["viewer"],
        "edit": w.owner.keys["editor"],
        "admn": w.owner.keys["admin"],
    }
    if name in keys:
        return client, {"X-API-Key": keys[name]}
    if name == "anon":
        return client, {}
    email = {"outs": "olga", "vsess": "dave", "esess": "bob"}.get(name, "ann") + "@example.com"
    token = login(client, email, PASSWORD)
    return client, {} if name == "nocsrf" else {"X-CSRF-Token": token}




def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """The one error shape: JSON {"error": str, "detail": str}, never HTML, never a redirect."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "Location" not in response.headers
    body = response.get_json()
    assert isinstance(body, dict)
    assert body["error"] == (code or ERROR_CODES[status])
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_no_key_leaks(w: World, response: TestResponse, *extra: str) -> None:
    raw = response.get_data(as_text=True)
    for key in [*w.all_keys(), *extra]:
        assert key not in raw
        assert key.split("_", 2)[2] not in raw  # nor the secret part alone


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("route", list(ROUTES))
def test_matrix(world: World, route: str, who: str) -> None:
    expected = EXPECTED[route][who]
    method, path, body = ROUTES[route](world, next(world.counter))
    client, headers = caller(world, who)
    before = snapshot(world.app) if method != "GET" else None

    response = client.open(path, method=method, json=body, headers=headers)

    assert_no_key_leaks(world, response, world.unknown)
    if expected == CSRF or expected >= 400:
        status, code = (403, "csrf_failed") if expected == CSRF else (int(expected), None)
        assert_error(response, status, code)
        if before is not None:
            assert snapshot(world.app) == before, "a refused request wrote to the database"
    else:
        assert response.status_code == expected, response.get_json()
        if expected == 204:
            assert response.data == b""
        elif route.endswith("stream"):  # ended by the test config's LIVE_STREAM_SECONDS
            assert response.mimetype == "text/event-stream"
            assert response.get_data(as_text=True).startswith("retry: ")
        else:
            assert response.mimetype == "application/json"


def test_matrix_covers_every_api_route(world: World) -> None:
    """A new /api/v1 route must get a row in the table above."""
    rules = {
        (rule.rule, method)
        for rule in world.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    adapter = world.app.url_map.bind("localhost")
    covered = set()
    for build in ROUTES.values():
        method, path, _ = build(world, next(world.counter))
        endpoint, _ = adapter.match(path.split("?")[0], method=method)
        rule = next(r for r in world.app.url_map.iter_rules(endpoint))
        covered.add((rule.rule, method))
    assert rules - covered == set()
    assert set(EXPECTED) == set(ROUTES)


# --- object-level checks ---------------------------------------------------------------------


def _fresh_account(w: World) -> Account:
    n = next(w.counter)
    account = make_account(w.app, f"boss{n}@example.com", f"proj{n}")
    _ok(w.app.test_client().post(
        f"/api/v1/projects/{account.project}/prompts/{SLUG}", json={"source": GREETING},
        headers=account.headers("admin")), 201)
    return account


def test_another_projects_key_id_is_not_found_in_mine(world: World) -> None:
    client = world.app.test_client()
    theirs = _ok(client.get("/api/v1/projects/other/keys", headers=world.other.headers("admin")))
    their_id = next(k["id"] for k in theirs["keys"] if k["name"] == "viewer")
    before = snapshot(world.app)

    response = client.delete(f"/api/v1/projects/demo/keys/{their_id}",
                             headers=world.owner.headers("admin"))

    assert_error(response, 404)
    assert snapshot(world.app) == before
    _ok(client.get("/api/v1/me", headers=world.other.headers("viewer")))


def test_unknown_project_is_404_for_keys_and_non_members_alike(world: World) -> None:
    client = world.app.test_client()
    assert_error(client.get("/api/v1/projects/nope/prompts", headers=world.owner.headers()), 404)
    # A non-member cannot tell a project that exists from one that does not.
    token = login(client, "olga@example.com")
    hidden = client.get("/api/v1/projects/demo/prompts", headers={"X-CSRF-Token": token})
    missing = client.get("/api/v1/projects/nope/prompts", headers={"X-CSRF-Token": token})
    assert_error(hidden, 404)
    assert_error(missing, 404)
    assert hidden.get_json()["detail"].replace("demo", "nope") == missing.get_json()["detail"]


def test_revocation_is_effective_on_the_very_next_request(world: World) -> None:
    account = _fresh_account(world)
    client = world.app.test_client()
    admin = account.headers("admin")
    created = _ok(client.post(f"/api/v1/projects/{account.project}/keys",
                              json={"name": "ci", "role": "editor"}, headers=admin), 201)
    bearer = {"Authorization": f"Bearer {created['key']}"}
    _ok(client.get(f"/api/v1/prompts/{SLUG}", headers=bearer))

    assert client.delete(f"/api/v1/projects/{account.project}/keys/{created['id']}",
                         headers=admin).status_code == 204

    body = assert_error(client.get(f"/api/v1/prompts/{SLUG}", headers=bearer), 401)
    assert "revoked" in body["detail"]
    assert_error(client.get(f"/api/v1/prompts/{SLUG}", headers={"X-API-Key": created["key"]}), 401)
    listed = _ok(client.get(f"/api/v1/projects/{account.project}/keys", headers=admin))
    assert created["id"] not in [k["id"] for k in listed["keys"]]
    assert_error(client.delete(f"/api/v1/projects/{account.project}/keys/{created['id']}",
                               headers=admin), 404)


def test_a_key_acts_with_no_more_than_its_creators_current_role(world: World) -> None:
    account = _fresh_account(world)
    p = account.project
    boss = world.app.test_client()
    admin = account.headers("admin")
    n = next(world.counter)
    email = f"deputy{n}@example.com"
    signup(boss, email, PASSWORD)
    add_member(world.app, p, email, "admin", admin, PASSWORD)
    deputy = world.app.test_client()
    token = login(deputy, email, PASSWORD)
    created = _ok(deputy.post(f"/api/v1/projects/{p}/keys", json={"name": "dep", "role": "admin"},
                              headers={"X-CSRF-Token": token}), 201)
    assert created["role"] == "admin"
    key = {"X-API-Key": created["key"]}
    prompt = f"/api/v1/projects/{p}/prompts/{SLUG}"
    _ok(boss.put(f"{prompt}/-/labels/production", json={"version": 1}, headers=key))

    def role_now(role: str) -> None:
        _ok(boss.put(f"/api/v1/projects/{p}/members/{email}", json={"role": role}, headers=admin))

    role_now("viewer")
    me = _ok(boss.get("/api/v1/me", headers=key))
    assert me["key"]["role"] == "viewer" and me["projects"][0]["role"] == "viewer"
    _ok(boss.get(prompt, headers=key))
    before = snapshot(world.app)
    assert_error(boss.post(prompt, json={"source": GREETING + "# x\n"}, headers=key), 403)
    assert_error(boss.put(f"{prompt}/-/labels/staging", json={"version": 1}, headers=key), 403)
    assert_error(boss.post(f"/api/v1/projects/{p}/keys", json={"name": "x", "role": "viewer"},
                           headers=key), 403)
    assert snapshot(world.app) == before

    role_now("editor")
    _ok(boss.post(prompt, json={"source": GREETING + "# x\n"}, headers=key), 201)
    _ok(boss.put(f"{prompt}/-/labels/staging", json={"version": 1}, headers=key))
    assert_error(boss.put(f"{prompt}/-/labels/production", json={"version": 2}, headers=key), 403)
    assert_error(boss.get(f"/api/v1/projects/{p}/members", headers=key), 403)

    assert boss.delete(f"/api/v1/projects/{p}/members/{email}", headers=admin).status_code == 204
    assert_error(boss.get(prompt, headers=key), 401)


def test_an_admin_creates_keys_of_every_role_but_no_made_up_role(world: World) -> None:
    account = _fresh_account(world)
    client = world.app.test_client()
    path = f"/api/v1/projects/{account.project}/keys"
    for role in ("viewer", "editor", "admin"):
        created = _ok(client.post(path, json={"name": role, "role": role},
                                  headers=account.headers("admin")), 201)
        me = _ok(client.get("/api/v1/me", headers={"X-API-Key": created["key"]}))
        assert me["key"]["role"] == role
    before = snapshot(world.app)
    for role in ("owner", "ADMIN", None, 3):
        assert_error(client.post(path, json={"name": "x", "role": role},
                                 headers=account.headers("admin")), 400)
    assert snapshot(world.app) == before


def test_keys_never_appear_in_events_lists_or_error_details(world: World) -> None:
    account = _fresh_account(world)
    client = world.app.test_client()
    p = account.project
    admin = account.headers("admin")
    created = _ok(client.post(f"/api/v1/projects/{p}/keys", json={"name": "leak", "role": "viewer"},
                              headers=admin), 201)
    plaintext = created["key"]
    assert plaintext.startswith(created["prefix"] + "_")
    secret = plaintext.split("_", 2)[2]
    wrong = created["prefix"] + "_" + secrets.token_urlsafe(32)
    probes = [
        client.get("/api/v1/me", headers={"X-API-Key": plaintext}),
        client.get(f"/api/v1/projects/{p}/keys", headers=admin),
        client.get(f"/api/v1/projects/{p}/events", headers=admin),
        client.get(f"/api/v1/projects/{p}/events?limit=1", headers=admin),
        client.get("/api/v1/me", headers={"X-API-Key": wrong}),
        client.get("/api/v1/me", headers={"X-API-Key": plaintext + "x"}),
        client.get("/api/v1/me", headers={"X-API-Key": plaintext[:-1]}),
        client.get("/api/v1/me", headers={"X-API-Key": secret}),
        client.get("/api/v1/projects/demo/prompts", headers={"X-API-Key": plaintext}),
        client.post(f"/api/v1/prompts/{SLUG}", json={"source": 1}, headers={"X-API-Key": secret}),
    ]
    client.delete(f"/api/v1/projects/{p}/keys/{created['id']}", headers=admin)
    probes += [
        client.get("/api/v1/me", headers={"X-API-Key": plaintext}),
        client.get(f"/api/v1/projects/{p}/events", headers=admin),
    ]
    events = probes[2].get_json()["events"]
    assert any(e["action"] == "key.created" and e["details"]["prefix"] == created["prefix"]
               for e in events)
    for response in probes:
        assert_no_key_leaks(world, response, plaintext, wrong)
