"""The ViZDoom family on the real game (headless): the CS:GO action mapping, the frames and the family entry."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vizdoom", reason="ViZDoom is not installed (pip install 'diamond-wm[vizdoom]')")

from diamond import fps_actions  # noqa: E402
from diamond.envs.vizdoom_fps import (  # noqa: E402
    MOUSE_DEGREES_PER_UNIT,
    VizdoomConfig,
    VizdoomFPSEnv,
    button_values,
)
from diamond.errors import InvalidValue  # noqa: E402


@pytest.fixture(scope="module")
def env():
    env = VizdoomFPSEnv(VizdoomConfig(scenario="deathmatch"), seed=0)
    yield env
    env.close()


def fresh(env, frames: int = 4):
    """The game variables a few frames into a new game episode."""
    _, info = env.reset(seed=0)
    for _ in range(frames):
        _, _, _, _, info = env.step(fps_actions.encode())
    return info["view"].variables


def step(env, pressed=(), dx=0.0, dy=0.0):
    obs, _, end, trunc, info = env.step(fps_actions.encode(pressed, dx, dy))
    assert not end and not trunc
    return obs, info["view"].variables


def turned(a: float, b: float) -> float:
    """Signed change of a Doom angle from a to b, in (-180, 180] (Doom angles grow counter-clockwise)."""
    return (b - a + 180) % 360 - 180


def test_w_walks_forward_along_the_view(env):
    start = fresh(env)
    for _ in range(5):
        _, now = step(env, ["w"])
    heading = np.radians(start["ANGLE"])
    moved = np.array([now["POSITION_X"] - start["POSITION_X"], now["POSITION_Y"] - start["POSITION_Y"]])
    assert moved @ np.array([np.cos(heading), np.sin(heading)]) > 20  # map units, along the view direction
    back = now
    for _ in range(5):
        _, now = step(env, ["s"])
    assert np.hypot(now["POSITION_X"] - back["POSITION_X"], now["POSITION_Y"] - back["POSITION_Y"]) > 5


@pytest.mark.parametrize("bin_value", [100, -1000, 2, 20])
def test_mouse_x_turns_right_by_the_documented_amount(env, bin_value):
    before = fresh(env)
    _, after = step(env, dx=bin_value)
    # a positive mouse move turns right, which lowers Doom's counter-clockwise angle
    assert turned(before["ANGLE"], after["ANGLE"]) == pytest.approx(-bin_value * MOUSE_DEGREES_PER_UNIT, abs=0.05)


def test_mouse_y_down_looks_down_by_the_documented_amount(env):
    before = fresh(env)
    _, after = step(env, dy=100)  # mouse moved down: look down 5°; Doom's pitch grows downwards
    assert after["PITCH"] - before["PITCH"] == pytest.approx(100 * MOUSE_DEGREES_PER_UNIT, abs=0.05)
    _, back = step(env, dy=-100)
    assert back["PITCH"] == pytest.approx(before["PITCH"], abs=0.05)


def test_lmb_fires(env):
    before = fresh(env, frames=15)  # the pistol is raised during the first frames of an episode
    for _ in range(4):
        _, now = step(env, ["lmb"])
    assert now["SELECTED_WEAPON_AMMO"] < before["SELECTED_WEAPON_AMMO"]


def test_frames_are_150_by_280_rgb_and_change_as_the_view_turns(env):
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 150, 280) and obs.dtype == np.uint8 and env.observation_shape == (3, 150, 280)
    assert obs.mean() > 20 and obs.std() > 10  # a lit picture, not a blank one
    step(env)
    a, _ = step(env)
    b, _ = step(env, dx=500)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 5
    assert env.protocol()["frames_per_second"] == 17.5


def test_button_values_follow_the_key_table():
    values = button_values(fps_actions.encode(["w", "d", "lmb", "r"], 60, -20), tics_per_frame=2)
    assert values[:4] == [1.0, 0.0, 0.0, 1.0]  # w, s, a, d
    assert values[-2:] == [pytest.approx(60 * 0.05 / 2), pytest.approx(20 * 0.05 / 2)]  # per tic; mouse up looks up


def test_the_vizdoom_family_builds_vector_envs_and_names_its_scenarios():
    from diamond.envs.families import FAMILIES, get_family, make_env

    family = get_family("vizdoom")
    assert family.games() == ("deathmatch", "multi_deathmatch") and not family.snapshots
    with pytest.raises(InvalidValue, match="unknown ViZDoom scenario 'e1m1'; expected one of deathmatch"):
        family.validate_game("e1m1", "--game")
    venv = make_env("vizdoom", "deathmatch", num_envs=1, seed=3, max_episode_steps=3)
    try:
        assert venv.reset().shape == (1, 3, 150, 280)
        actions = fps_actions.csgo_action_space().sample(np.random.default_rng(0), 1)
        for _ in range(2):
            _, _, _, trunc, _ = venv.step(actions)
        assert not trunc.any()
        _, _, end, trunc, _ = venv.step(actions)
        assert trunc.all() or end.all()  # the third frame reaches the time limit
        assert venv.protocol()["env"] == "vizdoom_fps"
    finally:
        venv.close()
    assert FAMILIES["vizdoom"].fixed_size == 150
