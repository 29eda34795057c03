"""A tiny agent (random weights) and real MinAtar contexts to imagine from, one per test module; and its
reward/termination model made to end every imagined episode, for the tests that need every env to end."""

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


@pytest.fixture
def certain_end(setup):
    """The reward/termination model's head made to sample "end" for every env, restored afterwards."""
    _, agent, _ = setup
    head = agent.rew_end.head
    saved = {k: v.clone() for k, v in head.state_dict().items()}
    with torch.no_grad():  # hidden units all SiLU(1) > 0, and only the "end" logit weighs them
        head[0].weight.zero_()
        head[0].bias.fill_(1.0)
        head[2].weight.zero_()
        head[2].weight[-1] = 100.0
    yield
    head.load_state_dict(saved)
