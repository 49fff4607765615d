"""The `git` object a pushed version may carry: where its source came from."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from webapi.shapes.base import COMMIT_PATTERN, Closed


class Git(Closed):
    """Each field may be left out or null; any other key is refused."""

    commit: Annotated[str, Field(pattern=COMMIT_PATTERN)] | None = None
    branch: Annotated[str | None, Field(min_length=1, max_length=255,
                                        description="Printable characters only.")] = None
    dirty: bool | None = None
    path: Annotated[str | None, Field(min_length=1, max_length=4096, description=(
        "Relative to the repository: not absolute, no '..'."))] = None
