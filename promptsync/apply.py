"""Carry out a plan: the push half lives in push.py, the pull half in pull.py.

Kept for callers that still import from here (cli_sync's PushResult); new code imports from
push and pull directly.
"""

from __future__ import annotations

from promptsync.pull import PullReport, PullResult, apply_pull
from promptsync.push import PushReport, PushResult, apply_push

__all__ = ["PullReport", "PullResult", "PushReport", "PushResult", "apply_pull", "apply_push"]
