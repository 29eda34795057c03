"""MinAtar games as RGB pixel envs; the optional dependency is imported lazily."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from diamond.envs.minatar import INSTALL_HINT, PALETTE, MinAtarConfig, MinAtarEnv, make_minatar_env, render_state

MINIMAL_ACTIONS = {"breakout": 3, "space_invaders": 4, "freeway": 3, "asterix": 5, "seaquest": 6}


def test_missing_minatar_tells_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "minatar", None)  # makes `import minatar` fail as if not installed
    with pytest.raises(ImportError, match=r"pip install 'diamond-wm\[minatar\]'"):
        MinAtarEnv(MinAtarConfig())
    assert "diamond-wm[minatar]" in INSTALL_HINT


def test_render_state_uses_one_colour_per_channel_and_nearest_neighbour():
    state = np.zeros((10, 10, 3), dtype=bool)
    state[0, 0, 0] = True
    state[9, 9, 2] = True
    state[5, 5, 0] = state[5, 5, 1] = True  # overlap: the higher channel wins
    image = render_state(state, 40)
    assert image.shape == (3, 40, 40) and image.dtype == np.uint8
    assert (image[:, :4, :4] == PALETTE[1][:, None, None]).all()  # 4×4 px per cell at size 40
    assert (image[:, 36:, 36:] == PALETTE[3][:, None, None]).all()
    assert (image[:, 20:24, 20:24] == PALETTE[2][:, None, None]).all()
    assert (image[:, 4:8, 0:4] == 0).all()


@pytest.mark.parametrize("game", sorted(MINIMAL_ACTIONS))
def test_games_have_pixels_and_minimal_action_sets(game):
    pytest.importorskip("minatar")
    env = MinAtarEnv(MinAtarConfig(game=game, max_episode_steps=50), seed=0)
    assert env.action_space.size == MINIMAL_ACTIONS[game]
    obs, _ = env.reset()
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8
    colours = {tuple(c) for c in PALETTE.tolist()}
    rng = np.random.default_rng(0)
    for _ in range(60):
        obs, rew, end, trunc, _ = env.step(int(rng.integers(env.action_space.size)))
        assert obs.shape == (3, 64, 64)
        if end or trunc:
            obs, _ = env.reset()
    assert {tuple(c) for c in obs.reshape(3, -1).T.tolist()} <= colours
    assert len(env.protocol()["channel_colours"]) > 0
    env.close()


def test_vector_minatar_is_reproducible():
    pytest.importorskip("minatar")
    actions = np.random.default_rng(0).integers(0, 3, size=(100, 2))
    runs = []
    for _ in range(2):
        vec = make_minatar_env(MinAtarConfig(game="breakout"), num_envs=2, seed=5)
        obs = [vec.reset()]
        for a in actions:
            obs.append(vec.step(a)[0])
        runs.append(np.stack(obs))
        vec.close()
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape == (101, 2, 3, 64, 64)


def test_unknown_minatar_game():
    with pytest.raises(ValueError, match="Did you mean 'space_invaders'"):
        MinAtarConfig(game="spaceinvaders")
