"""Imagination: the diffusion world model and the reward/termination model as a batched environment.

Each of the N imagined envs starts from a real 4-frame context (frames and actions) drawn from the
replay data as in spec §3. The reward/termination model's LSTM is burned in over the context's
transitions; then each step samples the next frame with the diffusion sampler (3 Euler steps by default)
and samples the reward class and termination from the reward/termination model's categorical outputs.
An env ends where termination is sampled and is truncated after ``horizon`` steps; either way it
restarts from a fresh real context, and ``info`` carries the new context's first frames so that a
recurrent policy can burn in (spec §6). Everything is batched over the envs on the models' device.

Without a reward/termination model (a world model trained alone), rewards are 0 and envs end only at
the horizon: the frames are imagined as usual.

With ``contexts_ahead`` > 0, real contexts are drawn and burned in that many at a time, ahead of the
resets that use them, instead of a few at each step (nearly every imagined step ends some env): one
larger call of the reward/termination model instead of one per step. The store and the models do not
change while the actor-critic imagines, so contexts drawn ahead are distributed as those drawn at the
reset; only the order of the random draws differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from diamond.configs.schema import SamplerConfig
from diamond.data.sampler import Batch
from diamond.imaging import to_model_range
from diamond.models.action_distribution import sample_categorical
from diamond.models.diffusion.formulations import NextFrameDenoiser, slide
from diamond.models.rew_end import LstmState, RewEndModel, class_reward

ContextSource = Callable[[int], Batch]  # n → a Batch of n segments of the context length ("end" placement)


@dataclass
class Contexts:
    """n real contexts: frames (n, K, C, H, W) in [-1, 1], actions, padding mask, and the reward/termination
    model's LSTM state burned in over them ((1, n, D) each), if there is that model."""

    obs: Tensor
    act: Tensor
    mask: Tensor
    state: LstmState | None

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def split(self, n: int) -> tuple[Contexts, Contexts]:
        """The first n contexts, and the rest."""
        state = lambda rows: None if self.state is None else (self.state[0][:, rows], self.state[1][:, rows])  # noqa: E731
        head, tail = slice(None, n), slice(n, None)
        return (
            Contexts(self.obs[head], self.act[head], self.mask[head], state(head)),
            Contexts(self.obs[tail], self.act[tail], self.mask[tail], state(tail)),
        )

    def __add__(self, other: Contexts) -> Contexts:
        state = None
        if self.state is not None and other.state is not None:
            state = (torch.cat((self.state[0], other.state[0]), 1), torch.cat((self.state[1], other.state[1]), 1))
        cat = lambda a, b: torch.cat((a, b))  # noqa: E731
        return Contexts(cat(self.obs, other.obs), cat(self.act, other.act), cat(self.mask, other.mask), state)


class WorldModelEnv:
    def __init__(
        self,
        denoiser: NextFrameDenoiser,
        rew_end: RewEndModel | None,
        contexts: ContextSource,
        num_envs: int,
        horizon: int,
        sampler: SamplerConfig,
        generator: torch.Generator | None = None,
        contexts_ahead: int = 0,
    ) -> None:
        if num_envs < 1 or horizon < 1 or contexts_ahead < 0:
            raise ValueError(
                f"WorldModelEnv: num_envs and horizon must be >= 1 and contexts_ahead >= 0, got {num_envs}, "
                f"{horizon} and {contexts_ahead}"
            )
        self.denoiser = denoiser
        self.rew_end = rew_end
        self.contexts = contexts
        self.num_envs = num_envs
        self.action_space = denoiser.action_space
        self.context_length = denoiser.context_length
        self.horizon = horizon
        self.sampler = sampler
        self.generator = generator
        self.contexts_ahead = contexts_ahead
        self.device = next(denoiser.parameters()).device
        self.obs: Tensor | None = None  # (N, K, C, H, W): the last K frames of each env
        self.act: Tensor | None = None  # (N, K[, A]): their actions; the last one is set by step()
        self.state: LstmState | None = None  # the reward/termination model's LSTM state
        self.steps = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._ahead: Contexts | None = None  # contexts drawn ahead, not used yet

    def _draw(self, n: int) -> Contexts:
        """n fresh real contexts, burned in."""
        batch = self.contexts(n).to(self.device)
        if batch.obs.shape[1] != self.context_length:
            raise ValueError(
                f"WorldModelEnv: contexts of {batch.obs.shape[1]} frames, the denoiser conditions on "
                f"{self.context_length}"
            )
        obs, act, mask = to_model_range(batch.obs), batch.act, batch.mask_padding
        if self.rew_end is None:
            return Contexts(obs, act, mask, None)
        # spec §5: burn in over the transitions inside the context (o_k, a_k, o_{k+1}), k < K − 1
        _, _, state = self.rew_end(obs[:, :-1], act[:, :-1], obs[:, 1:])
        return Contexts(obs, act, mask, state)

    def _take(self, n: int) -> Contexts:
        """n contexts for the envs being reset: drawn now, or from those drawn ahead."""
        if self.contexts_ahead == 0:
            return self._draw(n)
        have = 0 if self._ahead is None else len(self._ahead)
        if have < n:
            fresh = self._draw(max(n - have, self.contexts_ahead))
            self._ahead = fresh if self._ahead is None else self._ahead + fresh
        assert self._ahead is not None
        taken, self._ahead = self._ahead.split(n)
        return taken

    @torch.no_grad()
    def reset(self) -> tuple[Tensor, dict[str, Any]]:
        ctx = self._take(self.num_envs)
        self.obs, self.act, self.state = ctx.obs, ctx.act.clone(), ctx.state
        self.steps.zero_()
        return ctx.obs[:, -1], {
            "burnin_obs": ctx.obs[:, :-1],
            "burnin_mask": ctx.mask[:, :-1],
            "reset": torch.ones(self.num_envs, dtype=torch.bool, device=self.device),
        }

    @torch.no_grad()
    def step(self, act: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        if self.obs is None or self.act is None:
            raise RuntimeError("WorldModelEnv: call reset() before step()")
        shape = (self.num_envs, *self.action_space.shape)
        if tuple(act.shape) != shape:
            raise ValueError(
                f"WorldModelEnv.step: expected actions of shape {shape} ({self.action_space}), got {tuple(act.shape)}"
            )
        act = act.to(self.device, self.act.dtype)
        self.act[:, -1] = act
        next_obs, _ = self.denoiser.sample_next_obs(self.obs, self.act, self.sampler, generator=self.generator)
        if self.rew_end is None:
            rew = torch.zeros(self.num_envs, device=self.device)
            end = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        else:
            logits_rew, logits_end, self.state = self.rew_end(
                self.obs[:, -1:], act[:, None], next_obs[:, None], self.state
            )
            rew = class_reward(sample_categorical(logits_rew[:, 0], self.generator))
            end = sample_categorical(logits_end[:, 0], self.generator).bool()
        self.steps += 1
        trunc = (self.steps >= self.horizon) & ~end
        self.obs = slide(self.obs, next_obs)
        self.act = slide(self.act, torch.zeros_like(self.act[:, 0]))
        done = end | trunc
        idx = done.nonzero().squeeze(1)  # the one read on the host per step: which envs need new contexts
        info: dict[str, Any] = {"final_obs": next_obs, "reset": done, "reset_idx": idx}
        if len(idx):
            ctx = self._take(len(idx))
            self.obs[idx], self.act[idx] = ctx.obs, ctx.act
            if self.state is not None and ctx.state is not None:
                self.state[0][:, idx], self.state[1][:, idx] = ctx.state
            self.steps[idx] = 0
            info["burnin_obs"], info["burnin_mask"] = ctx.obs[:, :-1], ctx.mask[:, :-1]
        return self.obs[:, -1], rew, end, trunc, info
