"""What counts as an email address here, in one place for every way one comes in."""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 254  # RFC 5321's limit on a forward path
MAX_LOCAL = 64
MAX_LABEL = 63


def _hidden(char: str) -> bool:
    # Control, format (bidi overrides, zero-width), surrogate, private, unassigned and every
    # space or separator: none belongs in an address, and each can disguise one.
    # U+FFFD is what a broken UTF-8 sequence decodes to: never a real address.
    return unicodedata.category(char)[0] in "CZ" or char == "\ufffd"


def email_problem(email: str) -> str | None:
    """Why `email` is not an address we accept, or None: one @, a dot-separated domain of
    letters, digits and hyphens, no control, bidi or space characters, at most 254 characters."""
    if not email:
        return "it is empty"
    if len(email) > MAX_LENGTH:
        return f"it is longer than {MAX_LENGTH} characters"
    if any(_hidden(c) for c in email):
        return "it contains a control, formatting or space character"
    if email.count("@") != 1:
        return "it must contain exactly one '@'"
    local, domain = email.split("@")
    if not local or len(local) > MAX_LOCAL:
        return f"the part before '@' must be 1 to {MAX_LOCAL} characters"
    labels = domain.split(".")
    if len(labels) < 2:
        return "the domain must contain a dot"
    for label in labels:
        if not label or len(label) > MAX_LABEL:
            return f"each part of the domain must be 1 to {MAX_LABEL} characters"
        if not all(c.isalnum() or c == "-" for c in label):
            return "the domain may hold only letters, digits, '-' and '.'"
    return None
