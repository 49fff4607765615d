"""Emails are checked wherever one comes in: signup, login, members and invitations.
A bad one is a 400 naming the field, never a 500, on both databases; case does not matter."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.support.app import Account, login, signup
from webapi.api.inputs import NUL_DETAIL

VALID = [
    "plain@example.com",
    "first.last+tag@example.com",
    "x@mail.sub.example.co.uk",
    "o'brien_99@example.org",
    "user@xn--mller-kva.de",
    "user@müller.de",
    "a@b.cd",
    "Mixed.Case@Example.COM",
    "l" * 64 + "@example.com",
    "a@" + ".".join(["d" * 63] * 3) + ".com",  # labels of 63
    "a" * 64 + "@" + ".".join(["b" * 60] * 3) + "." + "c" * 6,  # 254 characters
    "  padded@example.com ",  # spaces around a pasted address are trimmed
]

INVALID = [
    "",
    "   ",
    "no-at-sign.example.com",
    "two@at@example.com",
    "@example.com",
    "user@",
    "user@nodot",
    "user@example.com.",
    "user@.example.com",
    "user@example..com",
    "user @example.com",
    "user@exa mple.com",
    "us\ter@example.com",
    "user@example.com\r\nBcc: victim@example.com",
    "user\n@example.com",
    "user\x00@example.com",
    "user\x1b[31m@example.com",
    "user\u202e@example.com",
    "user@exam\u202eple.com",
    "user\u200b@example.com",
    "user\u2066@example.com",
    "\ud800@example.com",
    "\ufffd@example.com",  # what a server decodes a broken UTF-8 sequence to
    "user@example.\udfff",
    "user@exa_mple.com",
    "user@[127.0.0.1]",
    "l" * 65 + "@example.com",
    "a@" + "d" * 64 + ".com",
    "a@" + ".".join(["d" * 63] * 4),  # 257 characters
    "a" * 64 + "@" + ".".join(["b" * 60] * 3) + "." + "c" * 7,  # 255 characters
]


def _refused(response: TestResponse, field: str = "email") -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "bad_request"
    # A NUL is refused before any field is read (webapi/api/inputs.py reject_nul), in one sentence.
    assert f"'{field}'" in body["detail"] or body["detail"] == NUL_DETAIL


def test_the_corpus_lengths_are_what_they_claim() -> None:
    assert len(VALID[10]) == 254 and len(INVALID[-2]) == 257 and len(INVALID[-1]) == 255


@pytest.mark.parametrize("email", INVALID, ids=repr)
def test_a_bad_email_is_a_400_naming_the_field_everywhere(app: Flask, account: Account,
                                                         email: str) -> None:
    web = app.test_client()
    _refused(web.post("/api/v1/auth/signup", json={"email": email, "password": "long enough pw"}))
    _refused(web.post("/api/v1/auth/login", json={"email": email, "password": "long enough pw"}))
    headers = account.headers()
    # Percent-encoded by hand: the test client would drop tabs and newlines (as browsers do) and
    # cannot encode a surrogate, which arrives as the bytes of one.
    path = "/api/v1/projects/demo/members/" + quote(email, safe="@", errors="surrogatepass")
    if email.strip():  # "" or spaces: no such route
        _refused(web.put(path, json={"role": "viewer"}, headers=headers))
        _refused(web.delete(path, headers=headers))
    members = web.get("/api/v1/projects/demo/members", headers=headers).get_json()
    assert [m["email"] for m in members["members"]] == ["ann@example.com"]
    assert members["invitations"] == []


@pytest.mark.parametrize("email", VALID, ids=repr)
def test_a_good_email_signs_up_logs_in_and_is_invited_case_insensitively(
    app: Flask, account: Account, email: str
) -> None:
    web = app.test_client()
    signup(web, email)
    stored = email.strip(" ").lower()
    assert login(app.test_client(), stored.upper() if stored.isascii() else stored)
    again = web.post("/api/v1/auth/signup", json={"email": stored.upper(), "password": "x" * 12})
    if stored.isascii():
        assert again.status_code == 409, again.get_json()
    invited = web.put(f"/api/v1/projects/demo/members/{email.strip()}", json={"role": "viewer"},
                      headers=account.headers())
    assert invited.status_code == 202, invited.get_json()
    assert invited.get_json()["invitation"]["email"] == stored
