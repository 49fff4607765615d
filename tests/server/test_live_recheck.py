"""The recheck of an open stream's caller (webapi/live/access.py), in-process on the real app's
SQLite database: streams of one caller share a period's answer; an event naming the caller asks
anew; the answers name what a request would get."""

from __future__ import annotations

from flask import Flask

from tests.support.app import make_account
from tests.support.waiting import wait_until
from webapi.extensions import db
from webapi.live.access import SHORTEST, Answers, Caller, Recheck, refusal


def _key_caller(app: Flask, name: str = "viewer") -> tuple[Caller, str]:
    """The Caller of the account's key `name` (the project 'demo'), and the admin's key."""
    account = make_account(app)
    web = app.test_client()
    keys = web.get("/api/v1/projects/demo/keys", headers=account.headers("admin")).get_json()
    key = next(k for k in keys["keys"] if k["name"] == name)
    with app.app_context():
        project_id = db.session.execute(db.text("SELECT id FROM projects")).scalar_one()
        user_id = db.session.execute(db.text("SELECT id FROM users")).scalar_one()
    return Caller(project_id, "demo", user_id, account.email, key_id=key["id"]), \
        account.keys["admin"]


def test_streams_of_one_caller_share_a_periods_answer(sqlite_app: Flask) -> None:
    caller, _ = _key_caller(sqlite_app)
    answers = Answers()
    with sqlite_app.app_context():
        engine = db.engine
    streams = [Recheck(engine, caller, SHORTEST, answers) for _ in range(50)]
    wait_until(lambda: all(s.due_in() == 0 for s in streams), 5, "the checks to fall due")
    assert [s.check() for s in streams] == [None] * 50
    assert answers.queries == 1  # one asked; the 49 others took its answer
    assert all(s.due_in() > 0 for s in streams)


def test_an_event_naming_the_caller_asks_anew_and_finds_the_revocation(sqlite_app: Flask
                                                                       ) -> None:
    caller, admin = _key_caller(sqlite_app)
    answers = Answers()
    with sqlite_app.app_context():
        engine = db.engine
    stream = Recheck(engine, caller, 3600, answers)
    other_key = {"action": "key.revoked", "details": {"key_id": caller.key_id + 1000}}
    assert stream.check([other_key]) is None and answers.queries == 0  # not due, not named
    response = sqlite_app.test_client().delete(f"/api/v1/projects/demo/keys/{caller.key_id}",
                                               headers={"X-API-Key": admin})
    assert response.status_code == 204
    named = {"action": "key.revoked", "details": {"key_id": caller.key_id}}
    found = stream.check([named])
    assert found is not None and (found.status, found.detail) == (
        401, "The API key has been revoked.")
    assert answers.queries == 1


def test_a_member_removed_is_a_404_as_for_any_non_member(sqlite_app: Flask) -> None:
    caller, _ = _key_caller(sqlite_app)
    session = Caller(caller.project_id, "demo", caller.user_id, caller.email, generation=0)
    with sqlite_app.app_context():
        engine = db.engine
        assert refusal(engine, session) is None
        db.session.execute(db.text("DELETE FROM memberships"))
        db.session.commit()
        found = refusal(engine, session)
        assert found is not None and (found.status, found.detail) == (404, "No project 'demo'.")
        stale = Caller(caller.project_id, "demo", caller.user_id, caller.email, generation=7)
        found = refusal(engine, stale)
        assert found is not None and found.status == 401  # an older session cookie
