"""The SQL of a fetch, built in one place, and the one mapper from its rows to a version.

A fetch reads one prompt version (the latest, ?version=N or ?label=L) with the labels on it in
one statement, scoped one of two ways: by an API key's prefix (the key's row, its project and its
creator's membership come back in the same statement, so the key is checked without a second
round trip) or by a project id (a caller the general path has already authorized). Every join
below the scope is a LEFT JOIN, so a missing prompt, version or label comes back as NULL version
columns: the key is still checked, and read_version says None. So does the latest or a label of
an archived prompt: the general path then answers its 410 (a version by number is still read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select, update

from webapi.auth.keys import KEY_WITH_CREATOR
from webapi.models import ApiKey, Label, Membership, Project, Prompt, PromptVersion
from webapi.services.versions import FetchedVersion

_K, _PR, _M = ApiKey.__table__, Project.__table__, Membership.__table__
_P, _V = Prompt.__table__, PromptVersion.__table__
_BY_LABEL = Label.__table__.alias("by_label")  # the label asked for (?label=)
_ON_VERSION = Label.__table__.alias("on_version")  # every label on the version found


# StrEnums: hashed by str's own C code when every fetch looks its statement up.
class Scope(StrEnum):
    """Whose prompts a fetch statement reads."""

    KEY = "key"  # the project of the key with :prefix (the key's row comes back first)
    PROJECT = "project"  # the project :project_id


class Ref(StrEnum):
    """Which version of the prompt :slug a fetch statement reads."""

    LATEST = "latest"
    VERSION = "version"  # :version
    LABEL = "label"  # the version the label :label points at


class KeyRow(NamedTuple):
    """The key columns that lead every row of a key-scoped statement."""

    id: int
    role: str
    secret_hash: str
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    project_slug: str
    creator_role: str | None  # None: the creator is no longer a member


# A member read from its Enum class costs ~0.4 µs (the metaclass's attribute lookup); what runs
# on every fetch reads these instead.
_LATEST, _VERSION, _LABEL = Ref.LATEST, Ref.VERSION, Ref.LABEL

_KEY_COLUMNS = (_K.c.id, _K.c.role, _K.c.secret_hash, _K.c.revoked_at, _K.c.last_used_at,
                _PR.c.slug, _M.c.role)
KEY_WIDTH = len(_KEY_COLUMNS)  # where the version columns start in a key-scoped row


def reference(version: int | None, label: str | None) -> tuple[Ref, dict[str, Any]]:
    """The Ref of a fetch by number, label or neither, with the parameters it binds."""
    if label is not None:
        return _LABEL, {"label": label}
    if version is not None:
        return _VERSION, {"version": version}
    return _LATEST, {}


def fetch_statement(scope: Scope, ref: Ref, full: bool) -> Select[Any]:
    """The statement of one kind of fetch: a row per label on the version found, or one row."""
    # full=False reads only the number and hash: enough to answer If-None-Match with a 304.
    if scope is Scope.KEY:
        columns: list[Any] = list(_KEY_COLUMNS)
        joined: Any = KEY_WITH_CREATOR.outerjoin(
            _P, (_P.c.project_id == _K.c.project_id) & (_P.c.slug == bindparam("slug")))
        where = _K.c.prefix == bindparam("prefix")
    else:
        columns, joined = [], _P
        where = (_P.c.project_id == bindparam("project_id")) & (_P.c.slug == bindparam("slug"))
    if ref is Ref.LABEL:
        joined = joined.outerjoin(_BY_LABEL, (_BY_LABEL.c.prompt_id == _P.c.id)
                                  & (_BY_LABEL.c.name == bindparam("label")))
        number: Any = _BY_LABEL.c.version
    else:
        number = bindparam("version") if ref is Ref.VERSION else _P.c.latest_version
    on_version = (_V.c.prompt_id == _P.c.id) & (_V.c.version == number)
    if ref is not Ref.VERSION:
        on_version &= _P.c.archived_at.is_(None)
    joined = joined.outerjoin(_V, on_version)
    columns += [_V.c.version, _V.c.sha256, _V.c.partials]
    if full:
        columns += [_V.c.data, _V.c.message, _V.c.author, _V.c.created_at, _V.c.git,
                    _V.c.source, _V.c.renamed_from, _ON_VERSION.c.name]
        joined = joined.outerjoin(_ON_VERSION, (_ON_VERSION.c.prompt_id == _P.c.id)
                                  & (_ON_VERSION.c.version == _V.c.version))
    return select(*columns).select_from(joined).where(where)


# Built once, so every fetch hits SQLAlchemy's compiled cache without building an expression.
STATEMENTS = {(scope, ref, full): fetch_statement(scope, ref, full)
              for scope in Scope for ref in Ref for full in (True, False)}
TOUCH = update(_K).where(_K.c.id == bindparam("key_id")).values(last_used_at=bindparam("now"))


def read_key(row: Sequence[Any]) -> KeyRow:
    """The key columns of a key-scoped row."""
    return KeyRow._make(row[:KEY_WIDTH])


def read_version(rows: Sequence[Sequence[Any]], full: bool, start: int = 0
                 ) -> FetchedVersion | None:
    """The version in a fetch statement's rows (its columns from `start`), or None if none."""
    if not rows or rows[0][start] is None:
        return None
    first = rows[0]
    if not full:
        return FetchedVersion(first[start], first[start + 1], partials=first[start + 2])
    label = start + 10
    return FetchedVersion(
        version=first[start], sha256=first[start + 1], data=first[start + 3],
        message=first[start + 4], author=first[start + 5], created_at=first[start + 6],
        git=first[start + 7], source=first[start + 8], renamed_from=first[start + 9], full=True,
        labels=sorted(row[label] for row in rows if row[label] is not None),
        partials=first[start + 2],
    )
