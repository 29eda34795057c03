"""The DDPM world model of the paper's comparison (spec §9, Figure 3, appendix K): the same U-Net trained to
predict the noise, with the schedule and sampler of diffusers' ``DDPMScheduler`` defaults.

- 1,000 training timesteps, β linear from 1e-4 to 0.02 (float32), ᾱ_t = ∏(1 − β); the noised frame is
  √ᾱ_t x + √(1 − ᾱ_t) ε with ε standard normal plus offset noise (0.3 · a per-channel normal, as EDM's);
  the network sees the noised frame and the clean context as they are and c_noise = (t + 1) / 1000.
- One denoising step is taken at t = 500 (the reference's best single-step setting):
  x̂ = (x − √(1 − ᾱ_t) ε̂) / √ᾱ_t.
- n > 1 steps follow ``DDPMScheduler.step`` with its defaults: timesteps k · (1000 // n) for k = n−1 … 0,
  the predicted clean frame clipped to [−1, 1], the posterior mean, the "fixed small" variance
  (1 − ᾱ_prev) / (1 − ᾱ_t) · β_t with β_t = 1 − ᾱ_t / ᾱ_prev (ᾱ_prev = 1 before the first timestep), and
  no noise at t = 0.
The sample is clamped and quantised to 8 bits at the end (the trajectory keeps the last step's raw value). The formulas are
written here (diffusers' ``step`` draws its own noise, where this model takes the project's generator or a
recorded draw); a test checks them against ``DDPMScheduler`` where diffusers is installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from diamond.configs.schema import DenoiserConfig, SamplerConfig
from diamond.imaging import quantize
from diamond.models.diffusion.autoregressive import autoregressive_loss
from diamond.models.diffusion.edm import as_image_scale
from diamond.models.diffusion.network import DenoiserNetwork, NextFrameModel

NUM_TRAIN_TIMESTEPS = 1000
BETA_START, BETA_END = 1e-4, 0.02
SINGLE_STEP_T = 500


def alphas_cumprod(num_timesteps: int = NUM_TRAIN_TIMESTEPS) -> Tensor:
    """ᾱ_t for t = 0 … T−1 of the linear β schedule, in float32 as diffusers computes it."""
    betas = torch.linspace(BETA_START, BETA_END, num_timesteps, dtype=torch.float32)
    return torch.cumprod(1.0 - betas, dim=0)


def c_noise(t: Tensor) -> Tensor:
    """The network's noise-level input for integer timesteps t (B,)."""
    return (t.float() + 1) / NUM_TRAIN_TIMESTEPS


def sampling_timesteps(n: int, num_timesteps: int = NUM_TRAIN_TIMESTEPS) -> list[int]:
    """The timesteps of n-step sampling: [500] for one step, else k · (T // n) for k = n−1 … 0."""
    if n < 1:
        raise ValueError(f"DDPM sampling: n={n} denoising steps; expected n >= 1")
    if n == 1:
        return [SINGLE_STEP_T]
    stride = num_timesteps // n
    return [k * stride for k in range(n - 1, -1, -1)]


def predicted_clean(x: Tensor, eps: Tensor, a_t: Tensor) -> Tensor:
    """x̂_0 = (x − √(1 − ᾱ_t) ε̂) / √ᾱ_t."""
    return (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()


def posterior_step(x: Tensor, eps: Tensor, a_t: Tensor, a_prev: Tensor, noise: Tensor | None) -> Tensor:
    """One step of ``DDPMScheduler.step`` (defaults) from timestep t to the previous sampled one."""
    beta_t = 1 - a_t / a_prev
    x0 = predicted_clean(x, eps, a_t).clamp(-1, 1)
    mean = (a_prev.sqrt() * beta_t / (1 - a_t)) * x0 + ((1 - beta_t).sqrt() * (1 - a_prev) / (1 - a_t)) * x
    if noise is None:
        return mean
    variance = ((1 - a_prev) / (1 - a_t) * beta_t).clamp(min=1e-20)
    return mean + variance.sqrt() * noise


class DdpmDenoiser(NextFrameModel):
    """The DDPM next-frame model behind the ``NextFrameDenoiser`` seam (``formulation: ddpm``)."""

    NETWORK = "noise_model"  # the reference's name for the noise-predicting network
    noise_model: DenoiserNetwork

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__(cfg)
        self.register_buffer("alphas_cumprod", alphas_cumprod(), persistent=False)

    def predict_noise(self, noisy: Tensor, t: Tensor, obs: Tensor, act: Tensor | None) -> Tensor:
        """ε̂ for noised frames (B, C, H, W) at integer timesteps t (B,), given the clean context (B, L[·C], ...)."""
        obs = obs.flatten(1, 2) if obs.ndim == 5 else obs
        return self.noise_model(noisy, c_noise(t), obs, act)

    def _alpha(self, t: Tensor | int, ndim: int) -> Tensor:
        a = self.alphas_cumprod[t] if isinstance(t, Tensor) else self.alphas_cumprod[t].reshape(1)
        return as_image_scale(a, ndim)

    def loss(
        self,
        obs: Tensor,
        act: Tensor,
        mask: Tensor,
        generator: torch.Generator | None = None,
        normaliser: Callable[[Tensor], Tensor] | None = None,
    ) -> Tensor:
        """Noise-prediction MSE on each target after the L context frames, conditioned, as EDM's loss is,
        on the model's own clipped and quantised one-step prediction of the targets before it."""
        n = self.context_length

        def target_step(k: int, context: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
            b, c = target.shape[:2]
            t = torch.randint(0, NUM_TRAIN_TIMESTEPS, (b,), device=obs.device, generator=generator)
            noise = torch.randn(target.shape, device=obs.device, generator=generator)
            noise = noise + self.cfg.sigma_offset_noise * torch.randn(
                b, c, 1, 1, device=obs.device, generator=generator
            )
            a_t = self._alpha(t, target.ndim)
            noisy = a_t.sqrt() * target + (1 - a_t).sqrt() * noise
            eps = self.predict_noise(noisy, t, context, act[:, k : n + k])
            with torch.no_grad():
                predicted = quantize(predicted_clean(noisy, eps.detach(), a_t).clamp(-1, 1))
            return (eps - noise).pow(2), predicted

        return autoregressive_loss(obs, mask, n, target_step, normaliser, "DdpmDenoiser.loss")

    @torch.no_grad()
    def sample_next_obs(
        self,
        obs: Tensor,
        act: Tensor,
        sampler: SamplerConfig,
        x_init: Tensor | None = None,
        generator: torch.Generator | None = None,
        step_noise: Iterator[Tensor] | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """The next frame with ``sampler.num_steps_denoising`` steps (the sampler's EDM fields do not apply),
        and the trajectory. ``step_noise``: the draws of the steps that add noise, instead of ``generator``."""
        b, _, c, h, w = obs.shape
        context = obs.flatten(1, 2)
        x = x_init if x_init is not None else torch.randn(b, c, h, w, device=obs.device, generator=generator)
        timesteps = sampling_timesteps(sampler.num_steps_denoising)
        trajectory = [x]
        for i, t in enumerate(timesteps):
            eps = self.predict_noise(x, torch.full((b,), t, device=obs.device, dtype=torch.long), context, act)
            a_t = self._alpha(t, x.ndim)
            if len(timesteps) == 1:  # the single step's prediction, clamped and quantised, is the sample
                x = quantize(predicted_clean(x, eps, a_t).clamp(-1, 1))
                return x, [*trajectory, x]
            prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
            a_prev = self._alpha(prev, x.ndim) if prev >= 0 else torch.ones_like(a_t)
            draw = None
            if t > 0:
                draw = (
                    next(step_noise)
                    if step_noise is not None
                    else torch.randn(x.shape, device=x.device, generator=generator)
                )
            x = posterior_step(x, eps, a_t, a_prev, draw)
            trajectory.append(x)
        return quantize(x.clamp(-1, 1)), trajectory
