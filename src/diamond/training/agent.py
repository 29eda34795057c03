"""The agent's three models with their optimisers, RNGs and counters, and one training step for each.

Everything a checkpoint must hold to continue a run exactly lives here (plus the collector's state,
which the run loop adds). The three ``train_*`` methods are the units of spec §1 step 2 and 3.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from diamond.configs.schema import TrainConfig
from diamond.data.sampler import SegmentSampler
from diamond.imaging import to_model_range
from diamond.models.actor_critic import ActorCritic
from diamond.models.diffusion.formulations import make_denoiser
from diamond.models.rew_end import RewEndModel
from diamond.rl.envs import TensorEnv
from diamond.rl.losses import actor_critic_loss
from diamond.rl.rollouts import RolloutRunner
from diamond.rl.world_model_env import WorldModelEnv
from diamond.spaces import ActionSpace
from diamond.training.distributed import DistInfo, Objective, count_normaliser, data_parallel, shard_size
from diamond.training.optim import make_optimizer, optimizer_step

RANK_SEED_STRIDE = 1_000_003  # seeds of process r: seed + r × stride (distinct streams per process)


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
    """With several processes (``dist``), each holds a replica of the three models, samples its own
    shard of every global batch (batch sizes are global and must split evenly) with its own RNGs, and
    DDP averages the gradients, so the replicas stay identical."""

    def __init__(self, cfg: TrainConfig, device: torch.device, dist: DistInfo = DistInfo()) -> None:
        self.cfg = cfg
        self.device = device
        self.dist = dist
        size = cfg.env.size
        torch.manual_seed(cfg.seed)
        self.denoiser = make_denoiser(cfg.denoiser).to(device)
        self.rew_end = RewEndModel(cfg.rew_end, image_size=size).to(device)
        self.actor_critic = ActorCritic(cfg.actor_critic, image_size=size).to(device)
        self.opt_denoiser = make_optimizer(self.denoiser, cfg.denoiser_training.optimizer)
        self.opt_rew_end = make_optimizer(self.rew_end, cfg.rew_end_training.optimizer)
        self.opt_actor_critic = make_optimizer(self.actor_critic, cfg.actor_critic_training.optimizer)
        seed = cfg.seed + RANK_SEED_STRIDE * dist.rank  # rank 0 draws exactly what a single process draws
        self.rng = np.random.default_rng(seed)  # segment sampling
        self.gen_denoiser = torch.Generator(device=device).manual_seed(seed + 1)
        self.gen_imagine = torch.Generator(device=device).manual_seed(seed + 2)
        self.updates = {"denoiser": 0, "rew_end": 0, "actor_critic": 0}
        self.batch_denoiser = shard_size(cfg.denoiser_training.batch_size, dist, "denoiser_training.batch_size")
        self.batch_rew_end = shard_size(cfg.rew_end_training.batch_size, dist, "rew_end_training.batch_size")
        self.batch_imagination = shard_size(cfg.actor_critic_training.imagination.batch_size, dist,
                                            "actor_critic_training.imagination.batch_size")
        normaliser = count_normaliser(dist)
        im = cfg.actor_critic_training.imagination
        self.objective_denoiser = data_parallel(Objective(
            self.denoiser, lambda m, *a, **k: m.loss(*a, normaliser=normaliser, **k)), dist, device)
        self.objective_rew_end = data_parallel(Objective(
            self.rew_end, lambda m, *a: m.loss(*a, normaliser=normaliser)), dist, device)
        self.objective_actor_critic = data_parallel(Objective(
            self.actor_critic, lambda m, runner: actor_critic_loss(runner.rollout(im.horizon), im)), dist, device)

    # -- one update of each model ----------------------------------------------------------------

    def train_denoiser(self, sampler: SegmentSampler) -> dict[str, float]:
        t = self.cfg.denoiser_training
        batch = sampler.sample(self.batch_denoiser, self.cfg.denoiser.net.num_steps_conditioning + t.num_targets, "end",
                               final_obs=t.final_obs_targets)
        batch = batch.to(self.device)
        self.denoiser.train()
        loss = self.objective_denoiser(to_model_range(batch.obs), batch.act, batch.mask_padding, generator=self.gen_denoiser)
        grad_norm = optimizer_step(self.denoiser, *self.opt_denoiser, loss, t.optimizer.max_grad_norm)
        self.updates["denoiser"] += 1
        return {"loss": float(loss.detach()), "grad_norm": grad_norm}

    def rew_end_batch(self, sampler: SegmentSampler, batch_size: int) -> tuple[torch.Tensor, ...]:
        t = self.cfg.rew_end_training
        batch = sampler.sample(batch_size, t.seq_length, "free", next_obs=True).to(self.device)
        assert batch.next_obs is not None
        return (to_model_range(batch.obs), batch.act, to_model_range(batch.next_obs), batch.rew, batch.end,
                batch.mask_padding)

    def rew_end_loss(self, sampler: SegmentSampler) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss on one global batch, in this process alone (held-out evaluation)."""
        return self.rew_end.loss(*self.rew_end_batch(sampler, self.cfg.rew_end_training.batch_size))

    def train_rew_end(self, sampler: SegmentSampler) -> dict[str, float]:
        self.rew_end.train()
        loss, stats = self.objective_rew_end(*self.rew_end_batch(sampler, self.batch_rew_end))
        stats["grad_norm"] = optimizer_step(self.rew_end, *self.opt_rew_end, loss,
                                            self.cfg.rew_end_training.optimizer.max_grad_norm)
        self.updates["rew_end"] += 1
        return stats

    def train_actor_critic(self, runner: RolloutRunner) -> dict[str, float]:
        t = self.cfg.actor_critic_training
        self.actor_critic.train()
        loss, stats = self.objective_actor_critic(runner)
        stats["grad_norm"] = optimizer_step(self.actor_critic, *self.opt_actor_critic, loss, t.optimizer.max_grad_norm)
        self.updates["actor_critic"] += 1
        return stats

    # -- imagination -----------------------------------------------------------------------------

    def world_model_env(self, sampler: SegmentSampler, num_envs: int | None = None) -> WorldModelEnv:
        im = self.cfg.actor_critic_training.imagination
        k = self.cfg.denoiser.net.num_steps_conditioning
        self.denoiser.eval()
        self.rew_end.eval()
        return WorldModelEnv(self.denoiser, self.rew_end, lambda n: sampler.sample(n, k, "end"),
                             num_envs or self.batch_imagination, im.horizon, self.cfg.sampler, generator=self.gen_imagine)

    def rollout_runner(self, env: TensorEnv, keep_obs: bool = False) -> RolloutRunner:
        return RolloutRunner(env, self.actor_critic, generator=self.gen_imagine, keep_obs=keep_obs)

    # -- checkpointing ---------------------------------------------------------------------------

    def rng_state(self) -> dict[str, Any]:
        """This process's random state (each process of a data-parallel run has its own)."""
        return {"numpy_rng": json.dumps(self.rng.bit_generator.state), "gen_denoiser": self.gen_denoiser.get_state(),
                "gen_imagine": self.gen_imagine.get_state()}

    def load_rng_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.gen_denoiser.set_state(state["gen_denoiser"].cpu())
        self.gen_imagine.set_state(state["gen_imagine"].cpu())

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"updates": dict(self.updates), **self.rng_state()}
        for name in ("denoiser", "rew_end", "actor_critic"):
            optimizer, scheduler = getattr(self, f"opt_{name}")
            out[name] = getattr(self, name).state_dict()
            out[f"{name}_optimizer"] = optimizer.state_dict()
            out[f"{name}_scheduler"] = scheduler.state_dict()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("denoiser", "rew_end", "actor_critic"):
            optimizer, scheduler = getattr(self, f"opt_{name}")
            getattr(self, name).load_state_dict(state[name])
            optimizer.load_state_dict(state[f"{name}_optimizer"])
            scheduler.load_state_dict(state[f"{name}_scheduler"])
        self.updates = {k: int(v) for k, v in state["updates"].items()}
        self.load_rng_state(state)
