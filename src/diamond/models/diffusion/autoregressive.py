"""The autoregressive training of a next-frame model (spec §4), whatever its formulation: each target after
the L context frames is learnt conditioned on the model's own prediction of the targets before it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from diamond.models.masked import masked_mean

# target_step(k, context (B, L, C, H, W), target (B, C, H, W)) -> (the squared errors of the model's training
# target (B, C, H, W), the model's own prediction of the target frame: what later targets are conditioned on)
TargetStep = Callable[[int, Tensor, Tensor], tuple[Tensor, Tensor]]


def autoregressive_loss(
    obs: Tensor,
    mask: Tensor,
    context_length: int,
    target_step: TargetStep,
    normaliser: Callable[[Tensor], Tensor] | None = None,
    where: str = "loss",
) -> Tensor:
    """The mean over the K targets of each one's masked mean squared error.

    obs: (B, L + K, C, H, W); mask: (B, L + K) True on real (unpadded) steps. ``normaliser``: maps this batch's
    number of unpadded targets to the count each target's squared errors are divided by (data-parallel
    training: the global count over the number of processes).
    """
    n = context_length
    num_targets = obs.size(1) - n
    if num_targets < 1:
        raise ValueError(f"{where}: sequences of {obs.size(1)} frames; need more than {n} context frames")
    frames, total = obs.clone(), obs.new_zeros(())
    for k in range(num_targets):
        valid = mask[:, n + k]
        squared, predicted = target_step(k, frames[:, k : n + k], frames[:, n + k])
        count = None if normaliser is None else normaliser(valid.sum().to(squared.dtype))
        total = total + masked_mean(squared, valid, count)
        if k + 1 < num_targets:
            with torch.no_grad():
                frames[:, n + k] = predicted.detach()
    return total / num_targets
