"""Vector envs: auto-reset with the true final observation, sync == subproc, worker errors (spec §2, §3)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from diamond.envs import AtariConfig, AtariEnv, EnvWorkerError, SubprocVectorEnv, SyncVectorEnv, make_atari_env

SHORT = AtariConfig(game="Breakout", max_episode_frames=400)  # short games, so auto-resets happen quickly


def _rollout(env, actions: np.ndarray):
    records = [env.reset()]
    for a in actions:
        obs, rew, end, trunc, info = env.step(a)
        records.append((obs, rew, end, trunc, info["final_obs"]))
    return records


def test_sync_and_subproc_give_identical_trajectories():
    actions = np.random.default_rng(0).integers(0, 4, size=(150, 3))
    sync = make_atari_env(SHORT, kind="train", num_envs=3, seed=7, backend="sync")
    sub = make_atari_env(SHORT, kind="train", num_envs=3, seed=7, backend="subproc")
    try:
        a, b = _rollout(sync, actions), _rollout(sub, actions)
        assert sync.protocol() == sub.protocol()
        assert sync.protocol()["env_seeds"] == [7, 8, 9]
    finally:
        sync.close()
        sub.close()
    np.testing.assert_array_equal(a[0], b[0])
    done_rows = 0
    for ra, rb in zip(a[1:], b[1:]):
        for x, y in zip(ra, rb):
            np.testing.assert_array_equal(x, y)
        obs, rew, end, trunc, final = ra
        assert obs.shape == (3, 3, 64, 64) and obs.dtype == np.uint8
        assert rew.dtype == np.float32 and end.dtype == np.uint8 and trunc.dtype == np.uint8
        done_rows += int((end | trunc).sum())
    assert done_rows > 3  # the comparison covered auto-resets
    assert not np.array_equal(a[1][0][0], a[1][0][1])  # env i is seeded with seed + i: the envs differ


def test_auto_reset_puts_the_true_final_observation_in_info():
    """Replay env 0 of a vector env with a single env and the same seed and actions."""
    cfg = AtariConfig(game="Breakout", max_episode_frames=300)
    actions = np.random.default_rng(1).integers(0, 4, size=(120, 2))
    vec = SyncVectorEnv([functools.partial(AtariEnv, cfg, "train", 3), functools.partial(AtariEnv, cfg, "train", 4)])
    single = AtariEnv(cfg, "train", seed=3)
    obs = vec.reset()
    np.testing.assert_array_equal(obs[0], single.reset()[0])
    kinds = set()
    for a in actions:
        obs, rew, end, trunc, info = vec.step(a)
        s_obs, s_rew, s_end, s_trunc, s_info = single.step(int(a[0]))
        np.testing.assert_array_equal(info["final_obs"][0], s_obs)
        assert (rew[0], end[0], trunc[0]) == (s_rew, s_end, s_trunc)
        if s_end or s_trunc:
            s_obs, reset_info = single.reset()
            kinds.add("life" if not reset_info["game_reset"] else "game")
            if reset_info["game_reset"]:
                assert not np.array_equal(info["final_obs"][0], obs[0])  # a fresh game, not the final frame
            else:
                np.testing.assert_array_equal(info["final_obs"][0], obs[0])  # life loss: the game goes on
        np.testing.assert_array_equal(obs[0], s_obs)
    assert kinds == {"life", "game"}  # both kinds of episode end were exercised
    vec.close()
    single.close()


def test_reset_with_a_seed_seeds_env_i_with_seed_plus_i():
    vec = make_atari_env(AtariConfig(game="Pong"), kind="test", num_envs=2, seed=0)
    first = vec.reset(seed=100)
    assert vec.protocol()["env_seeds"] == [100, 101]
    vec.step(np.array([1, 2]))
    again = vec.reset(seed=100)
    np.testing.assert_array_equal(first, again)
    vec.close()


def test_worker_errors_are_re_raised_with_the_worker_traceback():
    with pytest.raises(EnvWorkerError) as err:
        SubprocVectorEnv([functools.partial(AtariEnv, AtariConfig(), "eval", 0)])
    message = str(err.value)
    assert "env worker 0 raised InvalidValue" in message
    assert "worker traceback" in message and "life_loss_is_terminal" in message

    vec = SubprocVectorEnv([functools.partial(AtariEnv, AtariConfig(), "train", 0)])
    try:
        with pytest.raises(EnvWorkerError, match="RuntimeError.*call reset"):
            vec.step(np.array([0]))  # step before reset fails in the worker
        vec.reset()  # the worker survived and the pipes are still in step
        obs, *_ = vec.step(np.array([1]))
        assert obs.shape == (1, 3, 64, 64)
        with pytest.raises(ValueError, match=r"actions\[0\] = 9.*0\.\.3"):
            vec.step(np.array([9]))
    finally:
        vec.close()
    assert all(not p.is_alive() for p in vec._procs)
    vec.close()  # closing twice is harmless


def test_envs_with_different_protocols_cannot_share_a_vector_env():
    with pytest.raises(ValueError, match="share one protocol"):
        SyncVectorEnv(
            [
                functools.partial(AtariEnv, AtariConfig(), "train", 0),
                functools.partial(AtariEnv, AtariConfig(), "test", 1),
            ]
        )
