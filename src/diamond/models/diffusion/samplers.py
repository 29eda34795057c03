"""Samplers (spec §4): a pure function of a denoiser, the initial noise and the noise levels.

Euler (order 1) is the paper's choice for Atari; Heun (order 2) and EDM's stochastic "churn" are options,
and the engine's upsampler uses churn (spec §10). The churn step is the reference's: the noise is raised
to σ̂ = σ(1 + γ), the denoiser is called at σ (not σ̂), and the Euler step uses d = (x − D) / σ̂ over
σ_next − σ̂, all as float32 tensors. Without churn (γ = 0, the Atari sampler) σ̂ = σ and this is plain Euler.

The noise levels are read on the host once per call (``sigmas.tolist()``) for the decisions (churn or
not, the last step): pass them as a CPU tensor and sampling on a GPU waits for the device nowhere; the
arithmetic uses the same levels moved to the frames' device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

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
    churn_noise: Iterator[Tensor] | None = None,
) -> tuple[Tensor, list[Tensor]]:
    """Integrate the probability-flow ODE from sigmas[0] to sigmas[-1] (= 0).

    ``churn_noise``: the standard normal draws of the steps that churn, in order, instead of drawing them
    from ``generator`` (to replay a recorded run). Returns the final sample and the trajectory (initial
    noise first, one entry per step).
    """
    if order not in (1, 2):
        raise ValueError(f"sample: order={order}; expected 1 (Euler) or 2 (Heun)")
    num_steps = len(sigmas) - 1
    gamma_max = min(s_churn / num_steps, math.sqrt(2) - 1) if num_steps > 0 else 0.0
    levels = sigmas.tolist()  # the decisions below: no device sync per step
    sigmas = sigmas.to(x_init.device)
    x = x_init
    trajectory = [x]
    for i, (sigma, next_sigma) in enumerate(zip(sigmas[:-1], sigmas[1:])):
        gamma = gamma_max if s_tmin <= levels[i] <= s_tmax else 0.0
        sigma_hat = sigma * (gamma + 1)
        if gamma > 0:  # churn: raise the noise level to sigma_hat with fresh noise
            draw = (
                next(churn_noise)
                if churn_noise is not None
                else torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
            )
            x = x + draw * s_noise * (sigma_hat**2 - sigma**2) ** 0.5
        d = (x - denoise(x, sigma)) / sigma_hat
        dt = next_sigma - sigma_hat
        if order == 1 or levels[i + 1] == 0:
            x = x + d * dt
        else:
            x_euler = x + d * dt
            d_next = (x_euler - denoise(x_euler, next_sigma)) / next_sigma
            x = x + (d + d_next) / 2 * dt
        trajectory.append(x)
    return x, trajectory
