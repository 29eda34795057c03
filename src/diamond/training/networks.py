"""DIAMOND's trained networks as components (spec §1): what each learns from, its loss and its optimiser.

Each builder returns one ``Component``; ``agent.MODEL_BASED`` lists them in update order. The batch
sizes in the configuration are global: each process of a data-parallel run samples its shard.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diamond.configs.schema import ComputeConfig, DenoiserConfig, DenoiserTrainingConfig, TrainConfig
from diamond.devices import compile_in_place, place
from diamond.imaging import to_model_range
from diamond.models.actor_critic import ActorCritic
from diamond.models.diffusion.formulations import NextFrameDenoiser, make_denoiser
from diamond.models.diffusion.network import NextFrameModel
from diamond.models.rew_end import RewEndModel
from diamond.rl.losses import actor_critic_loss
from diamond.training.components import Component, training_parts
from diamond.training.distributed import DistInfo, count_normaliser, shard_size
from diamond.training.schedule import scheduled_updates

# Where batches come from: "replay" is a SegmentSampler over the stored episodes; "rollouts" a
# RolloutRunner of the actor-critic (in imagination, or in real envs for the model-free baseline).
REPLAY, ROLLOUTS = "replay", "rollouts"
DEFAULT_COMPUTE = ComputeConfig()


def denoiser_loss(
    m: NextFrameDenoiser, obs: torch.Tensor, act: torch.Tensor, mask: torch.Tensor, generator=None, normaliser=None
) -> tuple[torch.Tensor, dict[str, float]]:
    loss = m.loss(obs, act, mask, generator=generator, normaliser=normaliser)
    return loss, {"loss": loss.detach()}


def denoiser_component(
    model: DenoiserConfig,
    training: DenoiserTrainingConfig,
    updates_in: Callable[[int], int],
    device: torch.device,
    dist: DistInfo,
    generator: torch.Generator,
    where: str = "denoiser_training",
    compute: ComputeConfig = DEFAULT_COMPUTE,
) -> Component:
    """The diffusion world model (spec §4): EDM loss on segments of context frames and targets."""
    module = placed_denoiser(make_denoiser(model), device, compute)
    length = model.net.num_steps_conditioning + training.num_targets

    def sample(sampler, n: int) -> tuple:
        b = sampler.sample(n, length, "end", final_obs=training.final_obs_targets).to(device)
        return to_model_range(b.obs), b.act, b.mask_padding

    normaliser = count_normaliser(dist)
    # the metrics line has always held the denoiser's loss alone: runs stay comparable line for line
    return Component(
        "denoiser",
        module,
        training.optimizer,
        REPLAY,
        sample,
        denoiser_loss,
        **training_parts(
            module, denoiser_loss, dist, device, compute.precision, generator=generator, normaliser=normaliser
        ),
        batch_size=training.batch_size,
        shard_size=shard_size(training.batch_size, dist, f"{where}.batch_size"),
        updates_in=updates_in,
        generator=generator,
        held_out=True,
        logged_stats=("loss",),
    )


def placed_denoiser(module: NextFrameModel, device: torch.device, compute: ComputeConfig) -> NextFrameModel:
    """A denoiser (or any next-frame model) on ``device`` in ``compute``'s layout, its network compiled when
    ``compute.compile`` is on (``devices.compile_in_place``)."""
    place(module, device, compute.layout, compiled=compute.compile)
    if compute.compile:
        compile_in_place(module.network, device)
    return module


def rew_end_loss(m: RewEndModel, *batch: torch.Tensor, generator=None, normaliser=None):
    return m.loss(*batch, normaliser=normaliser)


def rew_end_component(cfg: TrainConfig, device: torch.device, dist: DistInfo, seed: int) -> Component:
    """The reward/termination model (spec §5): segments of ``seq_length`` steps with their next frames."""
    t = cfg.rew_end_training
    module = place(RewEndModel(cfg.rew_end, image_size=cfg.env.size), device, cfg.compute.layout)

    def sample(sampler, n: int) -> tuple:
        b = sampler.sample(n, t.seq_length, "free", next_obs=True).to(device)
        assert b.next_obs is not None
        return to_model_range(b.obs), b.act, to_model_range(b.next_obs), b.rew, b.end, b.mask_padding

    normaliser = count_normaliser(dist)
    return Component(
        "rew_end",
        module,
        t.optimizer,
        REPLAY,
        sample,
        rew_end_loss,
        **training_parts(module, rew_end_loss, dist, device, cfg.compute.precision, normaliser=normaliser),
        batch_size=t.batch_size,
        shard_size=shard_size(t.batch_size, dist, "rew_end_training.batch_size"),
        updates_in=scheduled_updates(cfg.schedule, "rew_end"),
        held_out=True,
    )


def actor_critic_component(cfg: TrainConfig, device: torch.device, dist: DistInfo, seed: int) -> Component:
    """The actor-critic (spec §3): REINFORCE with a value baseline on λ-returns of its own rollouts."""
    t = cfg.actor_critic_training
    im = t.imagination
    module = place(ActorCritic(cfg.actor_critic, image_size=cfg.env.size), device, cfg.compute.layout)

    def loss(m: ActorCritic, runner, generator=None, normaliser=None):
        return actor_critic_loss(runner.rollout(im.horizon), im)  # the runner acts with this module

    return Component(
        "actor_critic",
        module,
        t.optimizer,
        ROLLOUTS,
        lambda runner, n: (runner,),
        loss,
        **training_parts(module, loss, dist, device, cfg.compute.precision),
        batch_size=im.batch_size,
        shard_size=shard_size(im.batch_size, dist, "actor_critic_training.imagination.batch_size"),
        updates_in=scheduled_updates(cfg.schedule, "actor_critic"),
        # the model-free switch's rollouts are real env steps (spec §1's variant), not imagined ones
        frames_per_update=(
            "real_frames_per_s" if cfg.model_free else "imagined_frames_per_s",
            im.batch_size * im.horizon,
        ),
    )


def agent_denoiser(cfg: TrainConfig, device: torch.device, dist: DistInfo, seed: int) -> Component:
    return denoiser_component(
        cfg.denoiser,
        cfg.denoiser_training,
        scheduled_updates(cfg.schedule, "denoiser"),
        device,
        dist,
        torch.Generator(device=device).manual_seed(seed + 1),
        compute=cfg.compute,
    )
