"""The caller of the current request, by API key or by cookie session, resolved once."""

from __future__ import annotations

from flask import g

from webapi.auth.keys import presented_key, principal_from_key
from webapi.auth.principal import Principal
from webapi.auth.sessions import session_principal
from webapi.errors import HttpError


def current_principal() -> Principal | None:
    """The caller, resolved once per request; a bad key is a 401 even beside a cookie."""
    if "principal" in g:
        return g.principal
    plaintext = presented_key()
    principal = principal_from_key(plaintext) if plaintext is not None else session_principal()
    g.principal = principal
    return principal


def require_principal() -> Principal:
    """The caller, or a 401."""
    principal = current_principal()
    if principal is None:
        raise HttpError(401, "Authentication required: send X-API-Key or log in.")
    return principal


def require_user() -> Principal:
    """A caller signed in as a user (not an API key), or 401/403."""
    principal = require_principal()
    if principal.is_key:
        raise HttpError(403, "This action needs a user session, not an API key.")
    return principal
