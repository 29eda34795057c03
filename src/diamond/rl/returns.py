"""λ-returns (spec §6), the one place this formula lives."""

from __future__ import annotations

import torch
from torch import Tensor


def lambda_returns(
    rew: Tensor, end: Tensor, trunc: Tensor, val_bootstrap: Tensor, gamma: float, lambda_: float
) -> Tensor:
    """R_t = r_t + γ(1 − end_t)[(1 − λ) V_{t+1} + λ R_{t+1}] on sign-clipped rewards, over (B, T) tensors.

    ``val_bootstrap[:, t]`` is V(o_{t+1}), the value of the observation reached by step t. At a truncation
    and at the last step the return bootstraps from that value alone: R_t = r_t + γ(1 − end_t) V_{t+1}.
    """
    if not (rew.shape == end.shape == trunc.shape == val_bootstrap.shape) or rew.ndim != 2:
        raise ValueError(
            f"lambda_returns: rew {tuple(rew.shape)}, end {tuple(end.shape)}, trunc {tuple(trunc.shape)} "
            f"and val_bootstrap {tuple(val_bootstrap.shape)} must all be (batch, time)"
        )
    rew = rew.sign()
    not_end = 1 - end.float()
    stop = (trunc.bool() | end.bool()).float()  # no λ-mixing across the boundary of an episode
    returns = torch.empty_like(val_bootstrap)
    next_return = val_bootstrap[:, -1]
    for t in reversed(range(rew.size(1))):
        mix = (1 - lambda_) * val_bootstrap[:, t] + lambda_ * next_return
        target = stop[:, t] * val_bootstrap[:, t] + (1 - stop[:, t]) * mix
        returns[:, t] = rew[:, t] + gamma * not_end[:, t] * target
        next_return = returns[:, t]
    return returns
