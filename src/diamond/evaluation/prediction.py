"""How well the world model predicts real frames: one-step PSNR against the copy-last-frame baseline.

Copying the last context frame is a strong baseline on Atari (most pixels do not change between frames),
so the error is also reported on the pixels that do change between the last context frame and the true
next frame, where copying is maximally wrong and a model that learned the dynamics beats it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from diamond.configs.schema import SamplerConfig
from diamond.data.sampler import uniform_complete_segments
from diamond.imaging import psnr, to_model_range, to_uint8
from diamond.models.diffusion.formulations import NextFrameDenoiser


@dataclass
class HeldOutContexts:
    """Real (context, next frame) pairs: obs (N, L, C, H, W) uint8, act (N, L[, A]), next_obs (N, C, H, W) uint8."""

    obs: Tensor
    act: Tensor
    next_obs: Tensor

    def __len__(self) -> int:
        return self.obs.size(0)


def held_out_contexts(store, num: int, num_context: int, seed: int = 0) -> HeldOutContexts:
    """A fixed set (same seed → same set) of ``num`` real contexts with no padding and their next frames.

    Contexts that reach before an episode's start are left out: there the "last frame" is padding, and
    copying it would make the baseline look worse than it is.
    """
    segments = uniform_complete_segments(store.lengths, num, num_context + 1, np.random.default_rng(seed))
    obs = np.stack([store.get(e).obs[s : s + num_context + 1] for e, s in segments])
    act = np.stack([store.get(e).act[s : s + num_context] for e, s in segments])
    obs_t = torch.from_numpy(obs)
    return HeldOutContexts(obs=obs_t[:, :num_context], act=torch.from_numpy(act), next_obs=obs_t[:, -1])


@torch.no_grad()
def one_step_metrics(
    denoiser: NextFrameDenoiser, sampler: SamplerConfig, data: HeldOutContexts, batch_size: int = 32, seed: int = 0
) -> dict[str, float]:
    """PSNR (dB) of sampled next frames vs the real ones, beside copy-last-frame, overall and on changed pixels."""
    device = denoiser.device
    generator = torch.Generator(device=device).manual_seed(seed)
    predictions = []
    for i in range(0, len(data), batch_size):
        obs = to_model_range(data.obs[i : i + batch_size].to(device))
        act = data.act[i : i + batch_size].to(device)
        x, _ = denoiser.sample_next_obs(obs, act, sampler, generator=generator)
        predictions.append(to_uint8(x).cpu())
    pred = torch.cat(predictions)
    real, last = data.next_obs, data.obs[:, -1]
    changed = (real != last).any(dim=1, keepdim=True)  # pixels where any channel changed
    return {
        "psnr_model": psnr(pred, real),
        "psnr_copy_last": psnr(last, real),
        "psnr_model_changed": psnr(pred, real, changed),
        "psnr_copy_last_changed": psnr(last, real, changed),
        "changed_pixel_fraction": float(changed.float().mean()),
    }
