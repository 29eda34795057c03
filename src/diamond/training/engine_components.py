"""The engine's two trained networks as components (spec §10): the dynamics model on low-resolution
segments of L context frames and ``num_targets`` autoregressive targets, the upsampler on full-resolution
frames with their low-resolution versions; segments drawn uniformly from the static dataset."""

from __future__ import annotations

import numpy as np
import torch

from diamond.configs.engine import EngineComponentTrainingConfig
from diamond.data.engine_data import EngineSplit
from diamond.data.sampler import uniform_complete_segments
from diamond.devices import to_device
from diamond.imaging import to_model_range
from diamond.models.engine import Engine
from diamond.training.components import Component, training_parts
from diamond.training.distributed import DistInfo
from diamond.training.networks import denoiser_loss

TRAIN = "train"  # the components' batch source: the training split


def segments(split: EngineSplit, rng: np.random.Generator, n: int, length: int) -> list[tuple[int, int]]:
    """``n`` (episode, first frame) windows of ``length`` frames, uniform over the whole dataset."""
    return uniform_complete_segments(split.lengths, n, length, rng)


def _stacked(read, windows: list[tuple[int, int]], length: int, device: torch.device) -> torch.Tensor:
    """``read(episode, start, stop)`` of every window, stacked into one (n, length, ...) tensor."""
    return to_device(torch.from_numpy(np.stack([read(e, s, s + length) for e, s in windows])), device)


def dynamics_batch(
    split: EngineSplit, rng: np.random.Generator, n: int, length: int, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """(obs (n, length, C, h, w) in [-1, 1], act (n, length, A), mask all True)."""
    windows = segments(split, rng, n, length)
    obs = to_model_range(_stacked(split.low_res, windows, length, device))
    act = _stacked(split.actions, windows, length, device)
    return obs, act, torch.ones(n, length, dtype=torch.bool, device=device)


def upsampler_batch(
    split: EngineSplit, rng: np.random.Generator, n: int, length: int, device: torch.device
) -> tuple[torch.Tensor, ...]:
    """(full-resolution frames (n, length, C, H, W), their low-resolution frames (n, length, C, h, w), mask)."""
    windows = segments(split, rng, n, length)
    full = to_model_range(_stacked(split.full_res, windows, length, device))
    low = to_model_range(_stacked(split.low_res, windows, length, device))
    return full, low, torch.ones(n, length, dtype=torch.bool, device=device)


def engine_components(
    engine: Engine,
    dynamics: EngineComponentTrainingConfig,
    upsampler: EngineComponentTrainingConfig,
    rng: np.random.Generator,
    generators: dict[str, torch.Generator],
    device: torch.device,
    precision: str = "float32",
) -> list[Component]:
    """[dynamics, upsampler], in update order, each with its own noise generator, trained in ``precision``
    (a ``compute.precision``)."""
    out = []
    for name, module, training, make_batch in (
        ("dynamics", engine.dynamics, dynamics, dynamics_batch),
        ("upsampler", engine.upsampler, upsampler, upsampler_batch),
    ):
        length = module.context_length + training.num_targets

        def sample(split: EngineSplit, n: int, length: int = length, make_batch=make_batch) -> tuple:
            return make_batch(split, rng, n, length, device)

        generator = generators[name]
        parts = training_parts(module, denoiser_loss, DistInfo(), device, precision, generator=generator)
        out.append(
            Component(
                name,
                module,
                training.optimizer,
                TRAIN,
                sample,
                denoiser_loss,
                **parts,
                batch_size=training.batch_size,
                shard_size=training.batch_size,
                updates_in=lambda epoch, training=training: training.updates_per_epoch,
                generator=generator,
                logged_stats=("loss", "grad_norm"),
                grad_accumulation=training.grad_accumulation,
            )
        )
    return out
