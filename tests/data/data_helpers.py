"""Small deterministic episodes shared by the data tests (spec §3)."""

from __future__ import annotations

import numpy as np

from diamond.data import Episode

OBS_SHAPE = (3, 8, 8)
NUM_ACTIONS = 5


def labelled_episode(length: int, seed: int = 0, obs_shape: tuple[int, ...] = OBS_SHAPE) -> Episode:
    """Every step is recognisable: obs[t] is filled with t % 250 + 1 (never 0), act[t] is never 0."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    obs = np.broadcast_to((t % 250 + 1).astype(np.uint8)[:, None, None, None], (length, *obs_shape)).copy()
    end = np.zeros(length, dtype=np.uint8)
    end[-1] = 1
    return Episode(
        obs=obs,
        act=(t % (NUM_ACTIONS - 1) + 1).astype(np.int64),
        rew=rng.normal(size=length).astype(np.float32),
        end=end,
        trunc=np.zeros(length, dtype=np.uint8),
        final_obs=np.full(obs_shape, 255, dtype=np.uint8),
        info={"seed": seed, "game": "Test"},
    )


def random_episode(length: int, seed: int, obs_shape: tuple[int, ...] = OBS_SHAPE) -> Episode:
    rng = np.random.default_rng(seed)
    return Episode(
        obs=rng.integers(0, 256, size=(length, *obs_shape), dtype=np.uint8),
        act=rng.integers(0, NUM_ACTIONS, size=length),
        rew=rng.normal(size=length).astype(np.float32),
        end=(rng.random(length) < 0.1).astype(np.uint8),
        trunc=(rng.random(length) < 0.1).astype(np.uint8),
        final_obs=rng.integers(0, 256, size=obs_shape, dtype=np.uint8),
        info={"seed": seed, "nested": {"a": [1, 2]}},
    )


def assert_episodes_equal(a: Episode, b: Episode) -> None:
    for name in ("obs", "act", "rew", "end", "trunc", "final_obs"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.info == b.info
