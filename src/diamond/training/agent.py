"""The agent's trained networks (components), its RNGs and counters: everything a checkpoint holds.

The networks are a list of components (``training.components``), updated in order each epoch (spec §1
steps 2 and 3); a further network is one more builder in ``MODEL_BASED``. The model-free baseline
trains the actor-critic alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from diamond.configs.schema import TrainConfig
from diamond.data.sampler import SegmentSampler
from diamond.rl.envs import TensorEnv
from diamond.rl.rollouts import RolloutRunner
from diamond.rl.world_model_env import WorldModelEnv
from diamond.spaces import ActionSpace
from diamond.training.components import Component
from diamond.training.distributed import DistInfo, shard_size
from diamond.training.networks import actor_critic_component, agent_denoiser, rew_end_component

RANK_SEED_STRIDE = 1_000_003  # seeds of process r: seed + r × stride (distinct streams per process)

# builder(cfg, device, dist, seed of this process) -> Component; the order is the update order
Builder = Callable[[TrainConfig, torch.device, DistInfo, int], Component]
MODEL_BASED: tuple[Builder, ...] = (agent_denoiser, rew_end_component, actor_critic_component)
MODEL_FREE: tuple[Builder, ...] = (actor_critic_component,)  # real rollouts instead of imagination


def fit_to_env(cfg: TrainConfig, action_space: ActionSpace, img_channels: int) -> TrainConfig:
    """Set the action space and image channels of the three networks from the environment."""
    net = replace(cfg.denoiser.net, action_space=action_space, img_channels=img_channels)
    return replace(
        cfg,
        denoiser=replace(cfg.denoiser, net=net),
        rew_end=replace(cfg.rew_end, action_space=action_space, img_channels=img_channels),
        actor_critic=replace(cfg.actor_critic, action_space=action_space, img_channels=img_channels),
    )


class AgentTraining:
    """With several processes (``dist``), each holds a replica of every network, samples its own
    shard of every global batch (batch sizes are global and must split evenly) with its own RNGs, and
    DDP averages the gradients, so the replicas stay identical."""

    def __init__(
        self,
        cfg: TrainConfig,
        device: torch.device,
        dist: DistInfo = DistInfo(),
        builders: Sequence[Builder] | None = None,
    ) -> None:
        self.cfg = cfg
        self.device = device
        self.dist = dist
        seed = cfg.seed + RANK_SEED_STRIDE * dist.rank  # rank 0 draws exactly what a single process draws
        self.rng = np.random.default_rng(seed)  # segment sampling
        self.gen_imagine = torch.Generator(device=device).manual_seed(seed + 2)
        torch.manual_seed(cfg.seed)  # the initial weights: the same in every process
        builders = builders if builders is not None else (MODEL_FREE if cfg.model_free else MODEL_BASED)
        self.components: dict[str, Component] = {}
        for build in builders:
            component = build(cfg, device, dist, seed)
            self.components[component.name] = component
        self.batch_imagination = shard_size(
            cfg.actor_critic_training.imagination.batch_size, dist, "actor_critic_training.imagination.batch_size"
        )

    def module(self, name: str) -> nn.Module:
        if name not in self.components:
            raise AttributeError(f"this agent trains no {name} (its networks: {', '.join(self.components)})")
        return self.components[name].module

    denoiser = property(lambda self: self.module("denoiser"))
    rew_end = property(lambda self: self.module("rew_end"))
    actor_critic = property(lambda self: self.module("actor_critic"))

    @property
    def update_counts(self) -> dict[str, Callable[[int], int]]:
        """Each network's number of updates in epoch e."""
        return {name: c.updates_in for name, c in self.components.items()}

    @torch.no_grad()
    def held_out_stats(self, episodes, seed: int) -> dict[str, float]:
        """``test/<name>_<stat>``: the losses of the networks that learn from episodes, on held-out ones."""
        held = [c for c in self.components.values() if c.held_out]
        if not held:
            return {}
        sampler = SegmentSampler(episodes, np.random.default_rng(seed))
        for c in held:
            c.module.eval()
        out: dict[str, float] = {}
        for c in held:
            _, stats = c.loss(
                c.module,
                *c.sample(sampler, c.batch_size),
                generator=torch.Generator(device=self.device).manual_seed(seed),
            )
            out.update({f"test/{c.name}_{k}": float(v) for k, v in stats.items()})
        return out

    # -- imagination -----------------------------------------------------------------------------

    def world_model_env(self, sampler: SegmentSampler, num_envs: int | None = None) -> WorldModelEnv:
        im = self.cfg.actor_critic_training.imagination
        k = self.cfg.denoiser.net.num_steps_conditioning
        self.denoiser.eval()
        self.rew_end.eval()
        num_envs = num_envs or self.batch_imagination
        return WorldModelEnv(
            self.denoiser,
            self.rew_end,
            lambda n: sampler.sample(n, k, "end"),
            num_envs,
            im.horizon,
            self.cfg.sampler,
            generator=self.gen_imagine,
            contexts_ahead=num_envs,  # one burn-in call per num_envs resets, not one per imagined step
        )

    def rollout_runner(self, env: TensorEnv, keep_obs: bool = False) -> RolloutRunner:
        return RolloutRunner(env, self.actor_critic, generator=self.gen_imagine, keep_obs=keep_obs)

    # -- checkpointing: ``<name>``, ``<name>_optimizer``, ``<name>_scheduler`` per network ------------

    def rng_state(self) -> dict[str, Any]:
        """This process's random state (each process of a data-parallel run has its own)."""
        own = {f"gen_{name}": c.generator.get_state() for name, c in self.components.items() if c.generator is not None}
        return {
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            **own,
            "gen_imagine": self.gen_imagine.get_state(),
        }

    def load_rng_state(self, state: Mapping[str, Any]) -> None:
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        for name, c in self.components.items():
            if c.generator is not None:
                c.generator.set_state(state[f"gen_{name}"].cpu())
        self.gen_imagine.set_state(state["gen_imagine"].cpu())

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"updates": {name: c.updates for name, c in self.components.items()}, **self.rng_state()}
        for c in self.components.values():
            out.update(c.state_dict())
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, c in self.components.items():
            c.load_state_dict(state)
            c.updates = int(state["updates"][name])
        self.load_rng_state(state)
