"""The engine's ×k diffusion upsampler (spec §10): an EDM denoiser of the next full-resolution frame
conditioned on the previous full-resolution frame(s) and on the bicubic upsampling of the new
low-resolution frame (no actions). It reuses the dynamics denoiser's preconditioning, network and
sampler; only what it is conditioned on differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from diamond.configs.schema import DenoiserConfig, SamplerConfig
from diamond.models.diffusion import edm
from diamond.models.diffusion.denoiser import Denoiser
from diamond.models.masked import masked_mean


def bicubic_upsampling(low_res: Tensor, factor: int) -> Tensor:
    """(..., C, h, w) → (..., C, h·factor, w·factor), torch's bicubic interpolation as the reference uses it."""
    lead = low_res.shape[:-3]
    flat = low_res.reshape(-1, *low_res.shape[-3:])
    up = F.interpolate(flat, scale_factor=factor, mode="bicubic")
    return up.reshape(*lead, *up.shape[-3:])


class Upsampler(Denoiser):
    def __init__(self, cfg: DenoiserConfig) -> None:
        if not cfg.net.low_res_conditioning:
            raise ValueError("Upsampler: the network must be built with net.low_res_conditioning=True")
        super().__init__(cfg)

    @staticmethod
    def factor(full_res: Tensor, low_res: Tensor) -> int:
        (h, w), (lh, lw) = full_res.shape[-2:], low_res.shape[-2:]
        if h % lh or w % lw or h // lh != w // lw:
            raise ValueError(
                f"Upsampler: full-resolution frames {h}×{w} are not an integer multiple of the low-resolution "
                f"frames {lh}×{lw} with one factor for both sides"
            )
        return h // lh

    def context(self, prev_full_res: Tensor, low_res_next: Tensor) -> Tensor:
        """(B, (L+1)·C, H, W): the L previous full-resolution frames, then the bicubic frame."""
        up = bicubic_upsampling(low_res_next, self.factor(prev_full_res, low_res_next))
        return torch.cat((prev_full_res.flatten(1, 2), up), dim=1)

    def loss(  # type: ignore[override]
        self,
        obs: Tensor,
        act: Tensor,
        mask: Tensor,
        generator: torch.Generator | None = None,
        normaliser: Callable[[Tensor], Tensor] | None = None,
    ) -> Tensor:
        """EDM loss on (B, L + K, C, H, W) full-resolution frames ``obs``, conditioned step by step on their
        (B, L + K, C, h, w) low-resolution versions ``act`` (what the upsampler reads instead of actions):
        target k is predicted from the L real frames before it and its own low-resolution frame."""
        if normaliser is not None:
            raise NotImplementedError("Upsampler.loss: data-parallel normalisation is not supported")
        full_res, low_res = obs, act
        n = self.context_length
        num_targets = full_res.size(1) - n
        if num_targets < 1:
            raise ValueError(f"Upsampler.loss: sequences of {full_res.size(1)} frames; need more than {n}")
        total = full_res.new_zeros(())
        dist = self.cfg.sigma_distribution
        for k in range(num_targets):
            target, valid = full_res[:, n + k], mask[:, n + k]
            context, sigma_cond = self.noised_context(
                self.context(full_res[:, k : n + k], low_res[:, n + k]), generator
            )
            sigma = edm.sample_training_sigmas(
                target.size(0), dist.loc, dist.scale, dist.sigma_min, dist.sigma_max, target.device, generator
            )
            noisy = edm.add_noise(target, sigma, self.cfg.sigma_offset_noise, generator=generator)
            pc = self.preconditioners(sigma)
            out = self.model_output(noisy, sigma, context, None, pc, sigma_cond)
            total = total + masked_mean((out - edm.training_target(target, noisy, pc)).pow(2), valid)
        return total / num_targets

    @torch.no_grad()
    def upsample(
        self,
        prev_full_res: Tensor,
        low_res_next: Tensor,
        sampler: SamplerConfig,
        x_init: Tensor | None = None,
        generator: torch.Generator | None = None,
        churn_noise: Iterator[Tensor] | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """The next full-resolution frame (B, C, H, W) given (B, L, C, H, W) previous ones and the new
        (B, C, h, w) low-resolution frame, and the sampler's trajectory."""
        context = self.context(prev_full_res, low_res_next)
        return self.sample_next_obs(
            context.unflatten(1, (-1, prev_full_res.size(2))),
            None,  # type: ignore[arg-type]
            sampler,
            x_init=x_init,
            generator=generator,
            churn_noise=churn_noise,
        )
