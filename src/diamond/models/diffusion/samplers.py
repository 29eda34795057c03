"""Samplers (spec §4): a pure function of a denoiser, the initial noise and the noise levels.

Euler (order 1) is the paper's choice; Heun (order 2) and EDM's stochastic "churn" are options.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

DenoiseFn = Callable[[Tensor, Tensor], Tensor]  # (x^σ, σ) → denoised image


@torch.no_grad()
def sample(
    denoise: DenoiseFn,
    x_init: Tensor,
    sigmas: Tensor,
    order: int = 1,
    s_churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, list[Tensor]]:
    """Integrate the probability-flow ODE from sigmas[0] to sigmas[-1] (= 0).

    Returns the final sample and the trajectory (initial noise first, one entry per step).
    """
    if order not in (1, 2):
        raise ValueError(f"sample: order={order}; expected 1 (Euler) or 2 (Heun)")
    num_steps = len(sigmas) - 1
    gamma_max = min(s_churn / num_steps, math.sqrt(2) - 1) if num_steps > 0 else 0.0
    x = x_init
    trajectory = [x]
    for sigma, next_sigma in zip(sigmas[:-1], sigmas[1:]):
        gamma = gamma_max if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (gamma + 1)
        if gamma > 0:  # churn: raise the noise level to sigma_hat with fresh noise
            eps = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator) * s_noise
            x = x + eps * (sigma_hat**2 - sigma**2).sqrt()
        d = (x - denoise(x, sigma_hat)) / sigma_hat
        dt = next_sigma - sigma_hat
        if order == 1 or next_sigma == 0:
            x = x + d * dt
        else:
            x_euler = x + d * dt
            d_next = (x_euler - denoise(x_euler, next_sigma)) / next_sigma
            x = x + (d + d_next) / 2 * dt
        trajectory.append(x)
    return x, trajectory
