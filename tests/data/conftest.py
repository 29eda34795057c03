"""Fixtures for the data tests (spec §3)."""

from __future__ import annotations

import pytest
from data_helpers import NUM_ACTIONS, OBS_SHAPE


@pytest.fixture
def metadata() -> dict:
    return {"env": "test", "obs_shape": list(OBS_SHAPE), "num_actions": NUM_ACTIONS}
