"""Noise-level schedules for sampling (spec §4)."""

from __future__ import annotations

import torch
from torch import Tensor


def karras_sigmas(
    n: int, sigma_min: float = 2e-3, sigma_max: float = 5.0, rho: float = 7.0, device: torch.device | str = "cpu"
) -> Tensor:
    """σ_i = (σ_max^(1/ρ) + i/(n−1) · (σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ for i = 0..n−1, then σ_n = 0.

    With n = 1 the single level is σ_max.
    """
    if n < 1:
        raise ValueError(f"karras_sigmas: n={n} denoising steps; expected n >= 1")
    ramp = torch.linspace(0, 1, n, device=device)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])
