"""Gymnasium pixel envs behind the same interface (observations or rgb_array renders, area-resized)."""

from __future__ import annotations

import numpy as np
import pytest

from diamond.envs import GymPixelConfig, GymPixelEnv, make_gym_pixel_env


def test_image_observations_are_resized_to_rgb_channels_first():
    env = GymPixelEnv(GymPixelConfig("ALE/Pong-v5", size=48, make_kwargs={"repeat_action_probability": 0.0}), seed=0)
    assert env.action_space.size == 6
    obs, _ = env.reset()
    assert obs.shape == (3, 48, 48) and obs.dtype == np.uint8
    obs, rew, end, trunc, _ = env.step(1)
    assert obs.shape == (3, 48, 48) and isinstance(rew, float)
    assert env.protocol()["pixels_from_resolved"] == "observation"
    env.close()


def test_non_image_observations_are_rendered():
    env = GymPixelEnv(GymPixelConfig("ALE/Breakout-v5", size=32, make_kwargs={"obs_type": "ram"}), seed=0)
    assert env.protocol()["pixels_from_resolved"] == "render"
    obs, _ = env.reset()
    assert obs.shape == (3, 32, 32) and obs.dtype == np.uint8 and obs.max() > 0
    env.close()


def test_vector_gym_pixel_env_and_seeding():
    vec = make_gym_pixel_env(GymPixelConfig("ALE/Pong-v5", size=64), num_envs=2, seed=3)
    obs = vec.reset()
    assert obs.shape == (2, 3, 64, 64)
    obs, rew, end, trunc, info = vec.step(np.array([0, 1]))
    assert info["final_obs"].shape == (2, 3, 64, 64) and rew.shape == (2,)
    assert vec.protocol()["env_seeds"] == [3, 4]
    vec.close()


def test_continuous_actions_are_rejected_clearly():
    with pytest.raises(ValueError, match="only Discrete action spaces.*Box"):
        GymPixelEnv(GymPixelConfig("ALE/Pong-v5", make_kwargs={"continuous": True}))
    with pytest.raises(ValueError, match="pixels_from must be one of"):
        GymPixelConfig("ALE/Pong-v5", pixels_from="camera")
