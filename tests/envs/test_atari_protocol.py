"""The Atari 100k protocol of spec §2, checked on the real ALE."""

from __future__ import annotations

import json

import ale_py
import cv2
import gymnasium
import numpy as np
import pytest

from diamond.envs import ATARI_100K_GAMES, AtariConfig, AtariEnv

gymnasium.register_envs(ale_py)


def test_defaults_equal_the_spec():
    cfg = AtariConfig()
    assert (cfg.game, cfg.noop_max, cfg.frame_skip, cfg.size) == ("Breakout", 30, 4, 64)
    assert cfg.max_pool_last_two is True
    assert cfg.repeat_action_probability == 0.0
    assert cfg.full_action_space is False
    assert cfg.max_episode_frames == 108_000
    assert cfg.env_id == "BreakoutNoFrameskip-v4"
    assert len(ATARI_100K_GAMES) == 26


def test_raw_env_is_frameskip_1_without_sticky_actions_and_protocol_is_recorded():
    env = AtariEnv(AtariConfig(), "train", seed=0)
    unwrapped = env.raw_env.unwrapped
    assert unwrapped._frameskip == 1
    assert env.ale.getFloat("repeat_action_probability") == 0.0
    protocol = env.protocol()
    json.dumps(protocol)  # must be storable with the data
    assert protocol["env_id"] == "BreakoutNoFrameskip-v4"
    assert protocol["kind"] == "train" and protocol["life_loss_is_terminal"] is True
    assert protocol["ale_py_version"] == ale_py.__version__
    for knob in (
        "noop_max",
        "frame_skip",
        "max_pool_last_two",
        "size",
        "repeat_action_probability",
        "full_action_space",
        "max_episode_frames",
    ):
        assert protocol[knob] == getattr(env.config, knob)
    env.close()


@pytest.mark.parametrize("game, n", [("Breakout", 4), ("Pong", 6)])
def test_minimal_action_set(game, n):
    env = AtariEnv(AtariConfig(game=game), "test", seed=0)
    assert env.action_space.size == n
    assert env.protocol()["action_meanings"][0] == "NOOP"
    env.close()


def test_observation_is_64x64_rgb_uint8_channels_first():
    env = AtariEnv(AtariConfig(), "train", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8 and obs.flags.c_contiguous
    obs, *_ = env.step(1)
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8
    assert env.observation_shape == (3, 64, 64)
    env.close()
    small = AtariEnv(AtariConfig(size=32), "train", seed=0)
    assert small.reset()[0].shape == (3, 32, 32)
    small.close()


def test_noop_reset_draws_1_to_30_noops_and_the_emulator_really_runs_them():
    env = AtariEnv(AtariConfig(game="Pong"), "test", seed=123)
    counts = []
    for _ in range(150):
        _, info = env.reset()
        assert info["game_reset"] is True
        assert env.ale.getEpisodeFrameNumber() == info["noops"]  # exactly that many emulator frames since reset
        counts.append(info["noops"])
    counts = np.array(counts)
    assert counts.min() >= 1 and counts.max() <= 30
    assert len(set(counts.tolist())) >= 20  # it varies: U{1..30} hits most values in 150 draws
    assert counts.min() <= 3 and counts.max() >= 28
    env.close()


def _expected_obs(frames: list[np.ndarray], size: int, max_pool: bool) -> np.ndarray:
    frame = np.maximum(frames[-2], frames[-1]) if max_pool else frames[-1]
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)


@pytest.mark.parametrize("max_pool", [True, False])
def test_step_repeats_4_frames_sums_rewards_and_max_pools_the_last_two(max_pool):
    """Compare against the raw Gymnasium env (frameskip 1) stepped by hand with the same seed."""
    seed, size = 5, 64
    env = AtariEnv(AtariConfig(game="Pong", max_pool_last_two=max_pool), "test", seed=seed)
    raw = gymnasium.make("PongNoFrameskip-v4", frameskip=1, repeat_action_probability=0.0, full_action_space=False)
    obs, info = env.reset()
    frame, _ = raw.reset(seed=seed)  # the same emulator seed as env's first reset
    frames = [frame]
    for _ in range(info["noops"]):
        frames.append(raw.step(0)[0])
    np.testing.assert_array_equal(obs, _expected_obs(frames, size, max_pool))

    rng = np.random.default_rng(0)
    total_reward = 0.0
    for _ in range(260 if max_pool else 60):
        action = int(rng.integers(env.action_space.size))
        obs, reward, end, trunc, _ = env.step(action)
        expected_reward = 0.0
        for _ in range(4):
            frame, r, terminated, truncated, _ = raw.step(action)
            frames.append(frame)
            expected_reward += r
        frames = frames[-2:]
        assert reward == expected_reward
        np.testing.assert_array_equal(obs, _expected_obs(frames, size, max_pool))
        assert not (end or trunc)
        total_reward += reward
    if max_pool:
        assert total_reward != 0  # the rewards were really summed over a point scored in Pong
        assert not np.array_equal(np.maximum(frames[-2], frames[-1]), frames[-1])  # pooling is not a no-op here
    env.close()
    raw.close()


def test_frame_limit_truncates_with_an_early_stop():
    env = AtariEnv(AtariConfig(game="Pong", max_episode_frames=62), "test", seed=1)
    _, info = env.reset()
    steps = 0
    while True:
        _, _, end, trunc, step_info = env.step(0)
        steps += 1
        if end or trunc:
            break
    assert trunc and not end
    assert step_info["episode_frame_number"] == 62  # the last step stopped at the limit, not after 4 frames
    assert steps == -(-(62 - info["noops"]) // 4)
    assert env.reset()[1]["game_reset"] is True
    env.close()


def _play(kind: str, seed: int, actions: np.ndarray):
    """Play Breakout to game over with a fixed action sequence; return per-episode step records."""
    env = AtariEnv(AtariConfig(game="Breakout"), kind, seed=seed)
    obs, info = env.reset()
    episodes, current = [], []
    for action in actions:
        next_obs, reward, end, trunc, step_info = env.step(int(action))
        current.append((obs, reward, end, trunc, step_info, next_obs))
        obs = next_obs
        if end or trunc:
            episodes.append(current)
            current = []
            if step_info["game_over"]:
                break
            frame_before = env.ale.getEpisodeFrameNumber()
            obs, reset_info = env.reset()
            assert reset_info["game_reset"] is False
            assert env.ale.getEpisodeFrameNumber() == frame_before  # the game was not reset
            np.testing.assert_array_equal(obs, next_obs)  # the next life starts at the final obs
    env.close()
    return episodes


def test_life_loss_ends_the_episode_in_the_train_env_but_not_in_the_test_env():
    actions = np.random.default_rng(3).integers(0, 4, size=5000)
    train = _play("train", seed=11, actions=actions)
    test = _play("test", seed=11, actions=actions)

    assert len(test) == 1 and test[0][-1][4]["game_over"] and test[0][-1][2]  # test: one episode, to game over
    assert [s[2] for s in test[0][:-1]] == [False] * (len(test[0]) - 1)  # life losses ignored
    assert sum(s[4]["life_lost"] for s in test[0]) == 5

    assert len(train) == 5  # Breakout has 5 lives: one stored episode per life
    for k, episode in enumerate(train):
        assert episode[-1][2] is True and episode[-1][4]["life_lost"]
        assert episode[-1][4]["lives"] == 4 - k
        assert not any(s[2] or s[3] for s in episode[:-1])
    assert train[-1][-1][4]["game_over"]

    # Same seed and actions: the train env sees the very same frames, only cut at each lost life.
    flat_train = [s for episode in train for s in episode]
    assert len(flat_train) == len(test[0])
    for a, b in zip(flat_train, test[0]):
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]


def test_same_seed_same_actions_same_observations():
    actions = np.random.default_rng(0).integers(0, 6, size=200)
    runs = []
    for _ in range(2):
        env = AtariEnv(AtariConfig(game="Pong"), "train", seed=42)
        obs = [env.reset()[0]]
        for a in actions:
            o, _, end, trunc, _ = env.step(int(a))
            obs.append(o)
            if end or trunc:
                obs.append(env.reset()[0])
        runs.append(np.stack(obs))
        env.close()
    np.testing.assert_array_equal(runs[0], runs[1])


def test_reset_with_a_seed_reseeds_the_noops():
    env = AtariEnv(AtariConfig(game="Pong"), "test", seed=0)
    first = [env.reset(seed=9)[1]["noops"]] + [env.reset()[1]["noops"] for _ in range(5)]
    again = [env.reset(seed=9)[1]["noops"]] + [env.reset()[1]["noops"] for _ in range(5)]
    assert first == again
    env.close()


def test_misuse_gives_clear_errors():
    env = AtariEnv(AtariConfig(), "train", seed=0)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset()
    with pytest.raises(ValueError, match=r"\[0, 3\].*7"):
        env.step(7)
    env.close()
    with pytest.raises(ValueError, match="kind.*'train', 'test'.*'eval'"):
        AtariEnv(AtariConfig(), "eval")
