"""The README's ten lines that verify a webhook signature, run as written against a real
delivery from the worker: they accept it, and refuse it tampered with or replayed late."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.app import make_account
from tests.support.webhook_receiver import Receiver
from webapi.webhooks.worker import Worker

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "whsec_readme-test-secret"


def _readme_verify() -> Any:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- webhook-verify[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert block, "README.md has no webhook-verify block"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 10, "the README promises ten lines"
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 (our own README)
    return scope["verify"]


def test_the_readme_snippet_verifies_a_real_delivery(sqlite_app: Flask) -> None:
    verify = _readme_verify()
    sqlite_app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    receiver = Receiver(SECRET)
    receiver.up()
    try:
        account = make_account(sqlite_app)
        made = sqlite_app.test_client().post(
            "/api/v1/projects/demo/webhooks", headers=account.headers(),
            json={"url": receiver.url, "events": ["*"], "secret": SECRET})
        assert made.status_code == 201, made.get_json()
        assert Worker(sqlite_app).drain() == 1
    finally:
        receiver.down()
    (delivery,) = receiver.accepted()
    headers, body = delivery.headers, delivery.body
    assert verify(SECRET, headers, body) is True
    assert verify(SECRET, headers, body + b" ") is False
    assert verify("whsec_another", headers, body) is False
    stale = {**headers, "X-Promptsync-Timestamp": str(int(time.time()) - 3600)}
    assert verify(SECRET, stale, body) is False
