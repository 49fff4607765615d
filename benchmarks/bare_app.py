"""The reference for the fetch bar: a bare Flask route returning a constant ~600-byte JSON body.

Served with the same gunicorn settings as the real app (`gunicorn -w 2 benchmarks.bare_app:app`).
No database, no auth, no extensions: the floor that Flask + gunicorn set on this machine.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify

app = Flask(__name__)
app.json.sort_keys = False  # type: ignore[attr-defined]
app.json.compact = True  # type: ignore[attr-defined]

BODY: dict[str, Any] = {
    "project": "bench",
    "slug": "support/greeting",
    "version": 3,
    "sha256": "9f2c4b1e5d8a7c6b3e0f1a2d4c5b6a7988796a5b4c3d2e1f0a9b8c7d6e5f4a3b",
    "type": "text",
    "template": "You are a friendly support agent for Acme. Greet {{ name }} and answer their "
                "question about {{ topic }}.",
    "model": "gpt-4o-mini",
    "params": {"temperature": 0.2, "max_tokens": 300},
    "variables": {"name": {"description": "customer first name", "default": "there"},
                  "topic": {"description": "what the customer asked about", "required": True}},
    "description": "Greets a customer by name and answers one question",
    "labels": ["production"],
    "author": "bench@example.com",
    "created_at": "2025-01-01T00:00:00.000Z",
}


@app.get("/bare")
def bare() -> Any:
    return jsonify(BODY)


@app.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")
