"""The world-model environment, rollouts that do not know where they run, and the actor-critic loss."""

import numpy as np
import pytest
import torch

from diamond.configs.schema import ImaginationConfig
from diamond.envs.families import make_run_env
from diamond.rl.envs import RealTensorEnv
from diamond.rl.losses import actor_critic_loss

pytest.importorskip("minatar")


def test_world_model_env_steps_truncates_at_horizon_and_restarts_from_real_contexts(setup):
    cfg, agent, sampler = setup
    env = agent.world_model_env(sampler, num_envs=5)
    obs, info = env.reset()
    size = cfg.env.size
    assert obs.shape == (5, 3, size, size) and info["burnin_obs"].shape == (5, 3, 3, size, size)
    assert info["reset"].all()
    horizon = cfg.actor_critic_training.imagination.horizon
    age = torch.zeros(5, dtype=torch.long)  # steps since each env's last reset
    for _ in range(3 * horizon):
        obs, rew, end, trunc, info = env.step(torch.zeros(5, dtype=torch.long))
        age += 1
        assert obs.shape == (5, 3, size, size) and set(rew.unique().tolist()) <= {-1.0, 0.0, 1.0}
        assert not (end & trunc).any()
        assert torch.equal(trunc, ~end & (age == horizon))  # truncated exactly at the horizon
        assert torch.equal(info["reset"], end | trunc)
        age[end | trunc] = 0
    done = info["reset"]
    assert done.any() and "burnin_obs" in info  # (the last step above truncated or ended someone)
    assert not torch.equal(obs[done], info["final_obs"][done])  # the new context's last frame, not the imagined one
    # Frames are quantised to the 256 levels (spec §4)
    levels = (obs + 1) / 2 * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4)


def test_sampled_terminations_reset_only_those_envs(setup, certain_end):
    cfg, agent, sampler = setup
    env = agent.world_model_env(sampler, num_envs=4)
    env.reset()
    _, _, end, trunc, info = env.step(torch.ones(4, dtype=torch.long))
    assert end.all() and not trunc.any() and info["reset"].all()
    assert (env.steps == 0).all()


def test_rollouts_run_unchanged_in_a_real_env_and_in_imagination(setup):
    cfg, agent, sampler = setup
    horizon = 4
    real = RealTensorEnv(make_run_env(cfg, "train", 3, 5))
    for env in (real, agent.world_model_env(sampler, num_envs=3)):
        runner = agent.rollout_runner(env, keep_obs=True)
        for _ in range(2):
            r = runner.rollout(horizon)
            assert r.logits.shape == (3, horizon, env.action_space.size) and r.values.shape == (3, horizon)
            assert r.obs.shape[:2] == (3, horizon + 1) and r.logits.requires_grad and not r.val_bootstrap.requires_grad
            loss, stats = actor_critic_loss(r, cfg.actor_critic_training.imagination)
            loss.backward()
            assert np.isfinite(float(stats["loss"]))


def test_policy_gradient_does_not_reach_the_critic(setup):
    cfg, agent, sampler = setup
    runner = agent.rollout_runner(agent.world_model_env(sampler, num_envs=3))
    with torch.no_grad():  # non-zero heads so that both losses have gradients
        agent.actor_critic.critic_linear.weight.normal_()
        agent.actor_critic.actor_linear.weight.normal_()
    r = runner.rollout(3)
    agent.actor_critic.zero_grad()
    policy_only = ImaginationConfig(value_loss_weight=0.0, entropy_weight=0.0)
    actor_critic_loss(r, policy_only)[0].backward()
    assert (
        agent.actor_critic.critic_linear.weight.grad is None
        or agent.actor_critic.critic_linear.weight.grad.abs().max() == 0
    )
    assert agent.actor_critic.actor_linear.weight.grad.abs().max() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_imagination_runs_on_cuda(setup):
    from diamond.training.agent import AgentTraining

    cfg, _, sampler = setup
    agent = AgentTraining(cfg, torch.device("cuda"))
    rollout = agent.rollout_runner(agent.world_model_env(sampler, num_envs=4)).rollout(5)
    assert rollout.act.device.type == "cuda" and rollout.values.shape[:2] == (4, 5)
