"""A tiny agent (random weights) and real MinAtar contexts to imagine from, one per test module."""

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def setup():
    """(config, agent, a sampler of 300 real steps of the tiny preset's game)."""
    pytest.importorskip("minatar")
    from diamond.configs.presets import train_config
    from diamond.data.sampler import SegmentSampler
    from diamond.envs.families import make_run_env
    from diamond.training.agent import AgentTraining, fit_to_env
    from diamond.training.collector import Collector, RandomPolicy
    from diamond.training.evaluation_episodes import EpisodeList

    cfg = train_config("tiny")
    env = make_run_env(cfg, "train", 1, 0)
    cfg = fit_to_env(cfg, env.action_space, 3)
    episodes = EpisodeList()
    Collector(env, episodes, RandomPolicy(env.action_space, 0), seed=0).collect(300)
    agent = AgentTraining(cfg, torch.device("cpu"))
    return cfg, agent, SegmentSampler(episodes, np.random.default_rng(0), static=True)
