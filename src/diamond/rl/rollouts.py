"""Rollouts of the actor-critic in any ``TensorEnv``, kept differentiable for the REINFORCE update.

``RolloutRunner`` keeps the env's current observations and the policy's LSTM state between calls, so
in a real env (the model-free baseline) consecutive rollouts continue the same episodes, and in the
world model (whose envs truncate at the horizon) each call of ``horizon`` steps is one imagined batch.
It does not know which of the two it runs in (spec §6 asks for exactly that).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from diamond.models.actor_critic import ActorCritic, LstmState
from diamond.rl.envs import TensorEnv
from diamond.spaces import ActionSpace


@dataclass
class Rollout:
    """T steps of N envs. ``logits``/``values`` carry gradients; ``val_bootstrap[:, t]`` is V(o_{t+1})."""

    space: ActionSpace  # what ``act`` holds and how ``logits`` (the policy head's outputs) are read
    act: Tensor  # (N, T) int64 (discrete), (N, T, A) float32 (the other kinds)
    rew: Tensor  # (N, T) float32
    end: Tensor  # (N, T) bool
    trunc: Tensor  # (N, T) bool
    logits: Tensor  # (N, T, P): the policy head's outputs
    values: Tensor  # (N, T)
    val_bootstrap: Tensor  # (N, T), no gradient
    obs: Tensor | None = None  # (N, T + 1, C, H, W) if kept (videos, tests)


class RolloutRunner:
    def __init__(
        self, env: TensorEnv, model: ActorCritic, generator: torch.Generator | None = None, keep_obs: bool = False
    ) -> None:
        self.env = env
        self.model = model
        self.generator = generator
        self.keep_obs = keep_obs
        self.obs: Tensor | None = None
        self.state: LstmState | None = None

    def _restart(self, info: dict, idx: Tensor) -> None:
        """Fresh LSTM states for the envs ``idx`` just reset, burned in on their new contexts if the env gives
        them (spec §6); the other envs' states, and their gradients, are left as they are."""
        assert self.state is not None
        fresh = self.model.initial_state(len(idx), idx.device)
        if "burnin_obs" in info:
            fresh = self.model.burn_in(info["burnin_obs"], info["burnin_mask"], fresh)
        self.state = (self.state[0].index_put((idx,), fresh[0]), self.state[1].index_put((idx,), fresh[1]))

    def rollout(self, horizon: int) -> Rollout:
        if self.obs is None:
            self.obs, info = self.env.reset()
            n = self.env.num_envs
            self.state = self.model.initial_state(n, self.obs.device)
            self._restart(info, torch.arange(n, device=self.obs.device))
        assert self.state is not None
        acts, rews, ends, truncs, logits, values, final_values, observations = [], [], [], [], [], [], [], [self.obs]
        for _ in range(horizon):
            logits_t, value_t, self.state = self.model(self.obs, self.state)
            act = self.model.policy(logits_t.detach()).sample(self.generator)
            obs, rew, end, trunc, info = self.env.step(act)
            reset, idx = info["reset"], info["reset_idx"]
            final_value = torch.zeros_like(value_t)
            if len(idx):  # a shape, known on the host: no device read
                with torch.no_grad():  # spec §6: value of the final observation, with the state before the reset
                    _, v, _ = self.model(info["final_obs"][idx], (self.state[0][idx], self.state[1][idx]))
                final_value = final_value.index_put((idx,), v)
                self._restart(info, idx)
            self.obs = obs
            acts.append(act), rews.append(rew), ends.append(end), truncs.append(trunc)
            logits.append(logits_t), values.append(value_t), final_values.append((final_value, reset))
            if self.keep_obs:
                observations.append(obs)
        with torch.no_grad():
            _, last_value, _ = self.model(self.obs, self.state)
        values_t = torch.stack(values, dim=1)
        next_values = torch.cat((values_t[:, 1:].detach(), last_value[:, None]), dim=1)
        finals = torch.stack([v for v, _ in final_values], dim=1)
        resets = torch.stack([r for _, r in final_values], dim=1)
        self.state = (self.state[0].detach(), self.state[1].detach())
        return Rollout(
            space=self.model.cfg.action_space,
            act=torch.stack(acts, 1),
            rew=torch.stack(rews, 1),
            end=torch.stack(ends, 1),
            trunc=torch.stack(truncs, 1),
            logits=torch.stack(logits, 1),
            values=values_t,
            val_bootstrap=torch.where(resets, finals, next_values),
            obs=torch.stack(observations, 1) if self.keep_obs else None,
        )


def replay(model: ActorCritic, obs: Tensor, act: Tensor, rew: Tensor, end: Tensor, trunc: Tensor) -> Rollout:
    """A recorded trajectory re-evaluated by ``model`` from a zero LSTM state, with gradients.

    obs: (N, T + 1, C, H, W), the last one only bootstraps; act: (N, T) or (N, T, A); rew, end, trunc: (N, T). The LSTM runs
    through the whole trajectory (no reset inside it), and V(o_{t+1}) bootstraps step t.
    """
    n, steps = act.shape
    state = model.initial_state(n, obs.device)
    logits, values = [], []
    for t in range(steps + 1):
        logits_t, value_t, state = model(obs[:, t], state)
        logits.append(logits_t), values.append(value_t)
    values_t = torch.stack(values, dim=1)
    return Rollout(
        space=model.cfg.action_space,
        act=act,
        rew=rew,
        end=end.bool(),
        trunc=trunc.bool(),
        logits=torch.stack(logits[:steps], 1),
        values=values_t[:, :steps],
        val_bootstrap=values_t[:, 1:].detach(),
    )
