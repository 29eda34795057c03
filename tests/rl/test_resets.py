"""Resets in imagination: real contexts drawn ahead and burned in, and the policy's state restarted only
where an env was reset."""

import pytest
import torch

from diamond.imaging import to_model_range

pytest.importorskip("minatar")


class Recorded:
    """A context source that keeps every batch it hands out, in order."""

    def __init__(self, sampler, k):
        self.sampler, self.k, self.batches = sampler, k, []

    def __call__(self, n):
        batch = self.sampler.sample(n, self.k, "end")
        self.batches.append(batch)
        return batch

    def obs(self):
        return torch.cat([to_model_range(b.obs) for b in self.batches])

    def act(self):
        return torch.cat([b.act for b in self.batches])


def env_with(agent, cfg, source, num_envs, ahead):
    from diamond.rl.world_model_env import WorldModelEnv

    return WorldModelEnv(
        agent.denoiser.eval(),
        agent.rew_end.eval(),
        source,
        num_envs,
        cfg.actor_critic_training.imagination.horizon,
        cfg.sampler,
        generator=torch.Generator().manual_seed(0),
        contexts_ahead=ahead,
    )


def test_contexts_drawn_ahead_are_used_in_order_with_their_burned_in_state(setup, certain_end):
    cfg, agent, sampler = setup
    k = cfg.denoiser.net.num_steps_conditioning
    source = Recorded(sampler, k)
    env = env_with(agent, cfg, source, num_envs=3, ahead=5)
    calls = []
    hook = agent.rew_end.register_forward_hook(lambda m, args, out: calls.append(tuple(args[1].shape)))
    try:
        env.reset()
        used = 3
        for _ in range(4):  # every env ends at every step: 3 contexts per step
            obs, _, end, _, info = env.step(torch.zeros(3, dtype=torch.long))
            assert end.all() and torch.equal(info["reset_idx"], torch.arange(3))
            drawn = source.obs()
            assert torch.equal(env.obs, drawn[used : used + 3]) and torch.equal(obs, drawn[used : used + 3, -1])
            assert torch.equal(env.act, source.act()[used : used + 3])
            assert torch.equal(info["burnin_obs"], drawn[used : used + 3, :-1])
            used += 3
    finally:
        hook.remove()
    # 3 + 4 × 3 = 15 contexts, drawn 5 at a time (the first 3 for the reset, then topped up when short)
    assert [len(b) for b in source.batches] == [5, 5, 5]
    burn_ins = [shape for shape in calls if shape[1] == k - 1]
    assert burn_ins == [(5, k - 1)] * 3  # one call per batch drawn, not one per step
    # the state each env carries is the burn-in over its own context, as if burned in alone
    ctx_obs, ctx_act = source.obs()[12:15], source.act()[12:15]
    with torch.no_grad():
        _, _, (h, c) = agent.rew_end(ctx_obs[:, :-1], ctx_act[:, :-1], ctx_obs[:, 1:])
    assert torch.allclose(env.state[0], h, atol=1e-5) and torch.allclose(env.state[1], c, atol=1e-5)


def test_without_drawing_ahead_each_reset_draws_what_it_needs(setup, certain_end):
    cfg, agent, sampler = setup
    source = Recorded(sampler, cfg.denoiser.net.num_steps_conditioning)
    env = env_with(agent, cfg, source, num_envs=2, ahead=0)
    env.reset()
    env.step(torch.zeros(2, dtype=torch.long))
    assert [len(b) for b in source.batches] == [2, 2]
    with pytest.raises(ValueError, match="contexts_ahead >= 0"):
        env_with(agent, cfg, source, num_envs=2, ahead=-1)


class Spy:
    """The env as it is, keeping each step's info and the runner's state just before the step."""

    def __init__(self, env, runner_state):
        self.env, self.runner_state, self.steps = env, runner_state, []
        self.num_envs, self.action_space = env.num_envs, env.action_space

    def reset(self):
        return self.env.reset()

    def step(self, act):
        before = self.runner_state()
        out = self.env.step(act)
        self.steps.append((before, out[4]))
        return out


def test_the_policy_restarts_only_the_envs_reset_and_bootstraps_them_from_their_final_frame(setup):
    cfg, agent, sampler = setup
    model = agent.actor_critic
    with torch.no_grad():  # non-zero value head, so that bootstrapped values are not all 0
        model.critic_linear.weight.normal_()
    env = agent.world_model_env(sampler, num_envs=6)
    runner = agent.rollout_runner(env)
    spy = Spy(env, lambda: runner.state)
    runner.env = spy
    horizon = cfg.actor_critic_training.imagination.horizon
    r = runner.rollout(horizon)  # the last step truncates every env that has not ended
    for t, ((h_prev, c_prev), info) in enumerate(spy.steps):
        idx = info["reset_idx"]
        if len(idx) == 0:
            continue
        with torch.no_grad():
            _, v_final, _ = model(info["final_obs"][idx], (h_prev[idx], c_prev[idx]))
        assert torch.allclose(r.val_bootstrap[idx, t], v_final, atol=1e-5)
    idx = spy.steps[-1][1]["reset_idx"]
    assert len(idx) > 0  # the horizon truncates every env that did not end since its last reset
    info = spy.steps[-1][1]
    fresh = model.burn_in(info["burnin_obs"], info["burnin_mask"], model.initial_state(len(idx)))
    assert torch.allclose(runner.state[0][idx], fresh[0], atol=1e-5)
    assert torch.allclose(runner.state[1][idx], fresh[1], atol=1e-5)


def test_envs_not_reset_keep_their_state_and_its_gradient(setup, certain_end):
    cfg, agent, sampler = setup
    model = agent.actor_critic
    env = agent.world_model_env(sampler, num_envs=4)
    runner = agent.rollout_runner(env)
    runner.rollout(1)
    state_before = runner.state
    env.steps[:2] = env.horizon - 1  # envs 0 and 1 truncate at the next step: the head's "end" is certain...
    agent.rew_end.head[2].weight.data[-1] = -100.0  # ...made impossible for this step, so only the horizon ends
    logits, _, (h, c) = model(runner.obs, state_before)
    _, _, _, trunc, info = env.step(torch.zeros(4, dtype=torch.long))
    assert torch.equal(trunc, torch.tensor([True, True, False, False]))
    runner._restart(info, info["reset_idx"])
    assert not torch.equal(runner.state[0][:2], h[:2])  # restarted and burned in
    runner.state = (h, c)
    runner._restart(info, info["reset_idx"])
    assert torch.equal(runner.state[0][2:], h[2:]) and torch.equal(runner.state[1][2:], c[2:])
    assert runner.state[0].requires_grad  # backpropagation through time goes on for the envs not reset
