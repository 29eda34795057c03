"""The EDM denoiser D = c_skip · x^σ + c_out · F(...) and its autoregressive training loss (spec §4), with
the engine's context noise (spec §10): the context frames noised at σ_cond during training and lightly
(σ_cond = s_cond) at every sampling step, the network told c_noise_cond = ln(σ_cond) / 4."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from diamond.configs.schema import SamplerConfig
from diamond.imaging import quantize
from diamond.models.diffusion import edm
from diamond.models.diffusion.autoregressive import autoregressive_loss
from diamond.models.diffusion.network import DenoiserNetwork, NextFrameModel
from diamond.models.diffusion.samplers import sample
from diamond.models.diffusion.schedule import karras_sigmas


class Denoiser(NextFrameModel):
    NETWORK = "inner_model"
    inner_model: DenoiserNetwork

    def preconditioners(self, sigma: Tensor) -> edm.Preconditioners:
        return edm.preconditioners(sigma, self.cfg.sigma_data, self.cfg.sigma_offset_noise)

    def model_output(
        self,
        noisy_next_obs: Tensor,
        sigma: Tensor,
        obs: Tensor,
        act: Tensor | None,
        pc: edm.Preconditioners | None = None,
        sigma_cond: Tensor | None = None,
    ) -> Tensor:
        """F's raw output. obs: (B, L, C, H, W) or (B, L·C, H, W) context frames in [-1, 1] (already noised
        at ``sigma_cond`` (B,) when given; None: a clean context); act: (B, L[, A])."""
        pc = pc if pc is not None else self.preconditioners(sigma)
        obs = obs.flatten(1, 2) if obs.ndim == 5 else obs
        c_in = edm.as_image_scale(pc.c_in, noisy_next_obs.ndim)
        c_noise = pc.c_noise.reshape(-1)
        c_noise_cond = None if sigma_cond is None else edm.context_noise_level(sigma_cond).reshape(-1)
        return self.inner_model(noisy_next_obs * c_in, c_noise, obs / self.cfg.sigma_data, act, c_noise_cond)

    def denoise(
        self, noisy_next_obs: Tensor, sigma: Tensor, obs: Tensor, act: Tensor | None, sigma_cond: Tensor | None = None
    ) -> Tensor:
        """D(x^σ, σ, context), clamped and quantised to 8 bits: an image in [-1, 1]."""
        pc = self.preconditioners(sigma)
        out = self.model_output(noisy_next_obs, sigma, obs, act, pc, sigma_cond)
        return self._wrap(noisy_next_obs, out, pc)

    def noised_context(
        self, context: Tensor, generator: torch.Generator | None, sigma: Tensor | None = None, offset: bool = True
    ) -> tuple[Tensor, Tensor | None]:
        """The (B, L·C, H, W) context noised as spec §10 says, and its σ_cond: drawn from the training
        distribution when ``sigma`` is None and context noise is on; (context, None) when it is off."""
        if sigma is None:
            if not self.cfg.context_noise:
                return context, None
            dist = self.cfg.sigma_distribution
            sigma = edm.sample_training_sigmas(
                context.size(0), dist.loc, dist.scale, dist.sigma_min, dist.sigma_max, context.device, generator
            )
        offset_level = self.cfg.sigma_offset_noise if offset else 0.0
        return edm.add_noise(context, sigma, offset_level, generator=generator), sigma

    @staticmethod
    def _wrap(noisy: Tensor, model_output: Tensor, pc: edm.Preconditioners) -> Tensor:
        d = edm.as_image_scale(pc.c_skip, noisy.ndim) * noisy + edm.as_image_scale(pc.c_out, noisy.ndim) * model_output
        return quantize(d)

    def loss(
        self,
        obs: Tensor,
        act: Tensor,
        mask: Tensor,
        generator: torch.Generator | None = None,
        noise: list[tuple[Tensor, Tensor, Tensor]] | None = None,
        normaliser: Callable[[Tensor], Tensor] | None = None,
    ) -> Tensor:
        """Autoregressive EDM loss on sequences of L context frames followed by targets (spec §4).

        obs: (B, L + K, C, H, W) in [-1, 1]; act: (B, L + K[, A]); mask: (B, L + K) True on real (unpadded)
        steps. Target k is conditioned on the model's own quantised one-step prediction of target k-1.
        ``noise``: per target, (σ (B,), ε_c, ε) to use instead of drawing them from ``generator``.
        ``normaliser``: maps this batch's number of unpadded targets to the count each target's squared
        errors are divided by (data-parallel training: the global count over the number of processes).
        """
        n = self.cfg.net.num_steps_conditioning
        dist = self.cfg.sigma_distribution

        def target_step(k: int, context: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
            if noise is None:
                sigma = edm.sample_training_sigmas(
                    obs.size(0),
                    dist.loc,
                    dist.scale,
                    dist.sigma_min,
                    dist.sigma_max,
                    device=obs.device,
                    generator=generator,
                )
                noisy = edm.add_noise(target, sigma, self.cfg.sigma_offset_noise, generator=generator)
            else:
                sigma, offset, eps = noise[k]
                noisy = edm.noised(target, sigma, self.cfg.sigma_offset_noise, offset, eps)
            pc = self.preconditioners(sigma)
            context, sigma_cond = self.noised_context(context.flatten(1, 2), generator)
            out = self.model_output(noisy, sigma, context, act[:, k : n + k], pc, sigma_cond)
            with torch.no_grad():
                predicted = self._wrap(noisy, out.detach(), pc)
            return (out - edm.training_target(target, noisy, pc)).pow(2), predicted

        return autoregressive_loss(obs, mask, n, target_step, normaliser, "Denoiser.loss")

    @torch.no_grad()
    def sample_next_obs(
        self,
        obs: Tensor,
        act: Tensor,
        sampler: SamplerConfig,
        x_init: Tensor | None = None,
        generator: torch.Generator | None = None,
        churn_noise: Iterator[Tensor] | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Sample the next frame given (B, L, C, H, W) context frames and (B, L[, A]) actions.

        With ``sampler.s_cond`` > 0 the clean context is noised afresh (without offset noise) at every call
        of the denoiser, as the reference engine does (spec §10).
        """
        b, _, c, h, w = obs.shape
        context = obs.flatten(1, 2)
        if sampler.s_cond > 0 and not self.cfg.net.context_noise_embedding:
            raise ValueError(
                f"sampler.s_cond={sampler.s_cond}: this denoiser's network has no context-noise embedding "
                "(denoiser.net.context_noise_embedding is False); use s_cond 0"
            )
        if x_init is None:  # spec §4: start from N(0, I), not scaled by σ_max
            x_init = torch.randn(b, c, h, w, device=obs.device, dtype=obs.dtype, generator=generator)
        # on the CPU: the sampler reads them on the host, then moves them to the device once
        sigmas = karras_sigmas(sampler.num_steps_denoising, sampler.sigma_min, sampler.sigma_max, sampler.rho)
        s_cond = obs.new_full((b,), sampler.s_cond) if sampler.s_cond > 0 else None

        def denoise(x: Tensor, sigma: Tensor) -> Tensor:
            if s_cond is None:
                return self.denoise(x, sigma, context, act)
            noisy_context, _ = self.noised_context(context, generator, s_cond, offset=False)
            return self.denoise(x, sigma, noisy_context, act, s_cond)

        return sample(
            denoise,
            x_init,
            sigmas,
            order=sampler.order,
            s_churn=sampler.s_churn,
            s_tmin=sampler.s_tmin,
            s_tmax=sampler.s_tmax,
            s_noise=sampler.s_noise,
            generator=generator,
            churn_noise=churn_noise,
        )
