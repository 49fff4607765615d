"""What the client and the server agree on over the wire, beyond one prompt file: pure values.

Both sides import this module (the server's batch route and the client's batch push), so a limit
or an outcome is written once. The rules of one prompt file live in ``promptsync.format``.
"""

from __future__ import annotations

from enum import StrEnum

# The `error` code of an error answer, by HTTP status: the server writes it, and the client
# falls back on it when an answer carries no promptsync JSON body (a proxy's HTML page, say).
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "archived",  # the latest or a label of an archived prompt (a version by number answers)
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}
# Codes more specific than their status's, each with the status it comes with: the server names
# these refusals by them, and a client tells them apart from a plain conflict.
REFUSAL_CODES = {
    "protected_label": 409,  # a protected label points at the prompt (an archive, a rename)
    "provenance": 409,  # a protected label may point only at a clean commit (of its branches)
    "stale": 409,  # a promotion request whose label moved since it was opened
    # a protected label's move would break the prompt's contract (SPEC §13): the changes listed
    "contract_break": 409,
    # other prompts include the one to archive, or by the label to move or remove (SPEC §13):
    # they are named in ``dependents`` (and by which ref in ``via``)
    "included": 409,
    # a label would point at a version whose include does not resolve now (SPEC §13): ``chain``
    "broken_include": 409,
}

# Prompts in one batch push request: the server answers 413 above it, the client splits below it.
BATCH_LIMIT = 500


class PushOutcome(StrEnum):
    """What became of one uploaded prompt; the server's batch answer says it as ``status``."""

    CREATED = "created"  # stored as a new version
    UNCHANGED = "unchanged"  # the same bytes as the latest version: nothing stored
    CONFLICT = "conflict"  # refused: the server moved past the version the file is based on
    INVALID = "invalid"  # refused: the file does not parse (the problems say why)
    ERROR = "error"  # refused for another reason (the detail says why)
    WOULD_PUSH = "would push"  # a dry run's: never sent, so never in an answer
    # A deleted file's prompt, archived by its own request (DELETE), never in a batch answer.
    ARCHIVED = "archived"
    WOULD_ARCHIVE = "would archive"
