"""What the admin tests share: project 'demo' with an admin, an editor and a viewer signed in."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.admin_team import Team, make_team, team_members
from tests.support.saved_states import SavedStates


@pytest.fixture
def team(app: Flask, saved_states: SavedStates) -> Team:
    """make_team on the test's app (each backend in turn); its database part made once per
    process and put back after that, its members signed in for each test."""
    return make_team(app, saved_states.get(app, "team", team_members))
