"""What the admin tests share: project 'demo' with an admin, an editor and a viewer signed in."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.admin_team import Team, make_team


@pytest.fixture
def team(app: Flask) -> Team:
    """make_team on the test's app (each backend in turn)."""
    return make_team(app)
