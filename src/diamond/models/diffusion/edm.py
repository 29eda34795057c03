"""The EDM formulas with offset noise (spec §4; Karras et al. 2022): preconditioning, noising, target."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Preconditioners:
    c_in: Tensor
    c_out: Tensor
    c_skip: Tensor
    c_noise: Tensor


def preconditioners(sigma: Tensor, sigma_data: float, sigma_offset_noise: float) -> Preconditioners:
    """c_in, c_out, c_skip, c_noise for noise level(s) ``sigma``, using σ_eff = sqrt(σ² + σ_off²)."""
    sigma_eff = (sigma**2 + sigma_offset_noise**2).sqrt()
    var = sigma_eff**2 + sigma_data**2
    return Preconditioners(
        c_in=1 / var.sqrt(),
        c_out=sigma_eff * sigma_data / var.sqrt(),
        c_skip=sigma_data**2 / var,
        c_noise=sigma_eff.log() / 4,
    )


def context_noise_level(sigma_cond: Tensor) -> Tensor:
    """c_noise_cond = ln(σ_cond) / 4, the input of the context-noise embedding (spec §10)."""
    return sigma_cond.log() / 4


def add_noise(x0: Tensor, sigma: Tensor, sigma_offset_noise: float, generator: torch.Generator | None = None) -> Tensor:
    """x^σ = x⁰ + σ_off · ε_c + σ · ε, with ε_c constant over the pixels of each sample and channel."""
    offset, noise = draw_noise(x0, generator)
    return noised(x0, sigma, sigma_offset_noise, offset, noise)


def draw_noise(x0: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """ε_c of shape (B, C, 1, 1) and ε of x⁰'s shape, both standard normal (in this order)."""
    b, c = x0.shape[:2]
    offset = torch.randn(b, c, 1, 1, device=x0.device, dtype=x0.dtype, generator=generator)
    noise = torch.randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    return offset, noise


def noised(x0: Tensor, sigma: Tensor, sigma_offset_noise: float, offset: Tensor, noise: Tensor) -> Tensor:
    return x0 + sigma_offset_noise * offset + as_image_scale(sigma, x0.ndim) * noise


def training_target(x0: Tensor, noisy: Tensor, pc: Preconditioners) -> Tensor:
    """What F must output so that D = c_skip · x^σ + c_out · F equals x⁰."""
    return (x0 - as_image_scale(pc.c_skip, x0.ndim) * noisy) / as_image_scale(pc.c_out, x0.ndim)


def sample_training_sigmas(
    n: int,
    loc: float,
    scale: float,
    sigma_min: float,
    sigma_max: float,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """ln σ ~ N(loc, scale²), clipped to [sigma_min, sigma_max]."""
    log_sigma = torch.randn(n, device=device, generator=generator) * scale + loc
    return log_sigma.exp().clip(sigma_min, sigma_max)


def as_image_scale(v: Tensor, ndim: int) -> Tensor:
    """Reshape a per-sample (B,) or scalar tensor to broadcast over (B, C, H, W)."""
    return v.reshape(v.shape + (1,) * (ndim - v.ndim))
