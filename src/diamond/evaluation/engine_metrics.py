"""Held-out metrics of the neural game engine (spec §10), each beside the baseline it has to beat.

- the dynamics model's next low-resolution frame against copying the last context frame, over all pixels
  and over the pixels that change (where copying is wrong, so a model that learned the dynamics wins);
- the upsampler's full-resolution frame against plain bicubic ×k of the real low-resolution frame;
- open-loop rollouts of the whole engine (dynamics, then upsampler) driven by recorded actions.

Windows of real frames are drawn uniformly among the complete ones (no padding) with a seeded generator,
so the same seed evaluates every checkpoint on the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from diamond.configs.engine import EngineSamplingConfig
from diamond.configs.schema import SamplerConfig
from diamond.data.engine_data import EngineSplit
from diamond.data.sampler import uniform_complete_segments
from diamond.evaluation.imagination import Rollouts
from diamond.imaging import psnr, to_display, to_model_range
from diamond.models.diffusion.denoiser import Denoiser
from diamond.models.diffusion.upsampler import Upsampler, bicubic_upsampling
from diamond.models.engine import Engine, EngineState
from diamond.progress import Progress

# A pixel has changed when some channel moved by more than this many uint8 levels: small enough to catch
# motion, large enough to ignore the ±1-2 level jitter of the bicubic downscaling and of video compression.
CHANGED_LEVELS = 8


@dataclass
class EngineWindows:
    """Held-out windows of T consecutive frames: low (N, T, C, h, w) and full (N, T, C, H, W) uint8 (None if
    not read), act (N, T, A) float32 (act[:, t] is taken in frame t), and where each window starts."""

    segments: list[tuple[int, int]]
    low: np.ndarray
    full: np.ndarray | None
    act: np.ndarray

    def __len__(self) -> int:
        return len(self.segments)

    def head(self, n: int) -> EngineWindows:
        full = None if self.full is None else self.full[:n]
        return EngineWindows(self.segments[:n], self.low[:n], full, self.act[:n])


def held_out_windows(split: EngineSplit, count: int, length: int, seed: int, full_res: bool = True) -> EngineWindows:
    """``count`` windows of ``length`` frames drawn uniformly among the complete ones (same seed → same set)."""
    segments = uniform_complete_segments(split.lengths, count, length, np.random.default_rng(seed))
    low = np.stack([split.low_res(e, s, s + length) for e, s in segments])
    full = np.stack([split.full_res(e, s, s + length) for e, s in segments]) if full_res else None
    act = np.stack([split.actions(e, s, s + length) for e, s in segments])
    return EngineWindows(segments, low, full, act)


def changed_pixels(last: np.ndarray, real: np.ndarray, levels: int = CHANGED_LEVELS) -> np.ndarray:
    """(..., 1, H, W) bool: where some channel of ``real`` differs from ``last`` by more than ``levels``."""
    diff = np.abs(real.astype(np.int16) - last.astype(np.int16))
    return (diff > levels).any(axis=-3, keepdims=True)


def _batches(n: int, batch_size: int):
    return (slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size))


def _tensor(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


@torch.no_grad()
def one_step_dynamics(
    dynamics: Denoiser,
    sampler: SamplerConfig,
    windows: EngineWindows,
    generator: torch.Generator,
    batch_size: int = 16,
    bar: Progress | None = None,
) -> dict:
    """PSNR (dB) of the sampled next low-resolution frame and of copy-last against the real one, on windows
    of L + 1 frames; also over the changed pixels only, with their fraction."""
    n = windows.low.shape[1] - 1
    device = dynamics.device
    predictions = []
    for b in _batches(len(windows), batch_size):
        obs = to_model_range(_tensor(windows.low[b, :n], device))
        x, _ = dynamics.sample_next_obs(obs, _tensor(windows.act[b, :n], device), sampler, generator=generator)
        predictions.append(to_display(x).cpu().numpy())
        if bar is not None:
            bar.update(len(obs))
    pred, real, last = np.concatenate(predictions), windows.low[:, n], windows.low[:, n - 1]
    changed = changed_pixels(last, real)
    return {
        "psnr_dynamics": psnr(pred, real),
        "psnr_copy_last": psnr(last, real),
        "psnr_dynamics_changed": psnr(pred, real, changed),
        "psnr_copy_last_changed": psnr(last, real, changed),
        "changed_pixel_fraction": float(changed.mean()),
        "changed_threshold_levels": CHANGED_LEVELS,
        "num_contexts": len(windows),
        "windows": [list(s) for s in windows.segments],
    }


@torch.no_grad()
def upsampler_vs_bicubic(
    upsampler: Upsampler,
    sampler: SamplerConfig,
    windows: EngineWindows,
    generator: torch.Generator,
    batch_size: int = 16,
    bar: Progress | None = None,
) -> dict:
    """PSNR (dB) against the real full-resolution frame of the upsampled frame (from the real previous
    full-resolution frame(s) and the real low-resolution frame) and of bicubic ×k of the low-resolution one."""
    assert windows.full is not None, "upsampler_vs_bicubic needs full-resolution frames"
    n = windows.full.shape[1] - 1
    device = upsampler.device
    upsampled, bicubic, factor = [], [], 1
    for b in _batches(len(windows), batch_size):
        prev = to_model_range(_tensor(windows.full[b, :n], device))
        low_next = to_model_range(_tensor(windows.low[b, n], device))
        x, _ = upsampler.upsample(prev, low_next, sampler, generator=generator)
        factor = Upsampler.factor(prev, low_next)
        upsampled.append(to_display(x).cpu().numpy())
        bicubic.append(to_display(bicubic_upsampling(low_next, factor)).cpu().numpy())
        if bar is not None:
            bar.update(len(prev))
    real = windows.full[:, n]
    return {
        "psnr_upsampler": psnr(np.concatenate(upsampled), real),
        "psnr_bicubic": psnr(np.concatenate(bicubic), real),
        "factor": factor,
        "num_pairs": len(windows),
        "windows": [list(s) for s in windows.segments],
    }


@torch.no_grad()
def engine_rollouts(
    engine: Engine,
    sampling: EngineSamplingConfig,
    windows: EngineWindows,
    generator: torch.Generator,
    act: np.ndarray | None = None,
    batch_size: int = 16,
    bar: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Imagined (N, T - L, C, h, w) low- and (N, T - L, C, H, W) full-resolution uint8 frames: the engine
    starts from each window's first L real frames and steps on its own frames, driven by ``act`` (N, T, A)
    (default: the recorded actions)."""
    assert windows.full is not None, "engine_rollouts needs full-resolution frames"
    act = windows.act if act is None else act
    n, n_up = engine.dynamics.context_length, engine.upsampler.context_length
    horizon = windows.low.shape[1] - n
    device = engine.device
    lows, fulls = [], []
    for b in _batches(len(windows), batch_size):
        actions = _tensor(act[b], device)
        state = EngineState(
            to_model_range(_tensor(windows.low[b, :n], device)),
            actions[:, :n],
            to_model_range(_tensor(windows.full[b, n - n_up : n], device)),
        )
        low_steps, full_steps = [], []
        for k in range(horizon):
            low, full = engine.step(state, sampling, generator=generator)
            low_steps.append(to_display(low).cpu())
            full_steps.append(to_display(full).cpu())
            if k + 1 < horizon:
                state = Engine.advance(state, low, full, actions[:, n + k])
            if bar is not None:
                bar.update(len(actions))
        lows.append(torch.stack(low_steps, dim=1).numpy())
        fulls.append(torch.stack(full_steps, dim=1).numpy())
    return np.concatenate(lows), np.concatenate(fulls)


def rollout_metrics(windows: EngineWindows, low: np.ndarray, full: np.ndarray, num_context: int) -> dict:
    """Per-step PSNR (dB) of imagined against real frames at both resolutions, with the copy-last-context
    baselines, and their means over the horizon."""
    assert windows.full is not None
    per_res = {
        "low_res": Rollouts(real=windows.low, imagined=low, act=windows.act, num_context=num_context),
        "full_res": Rollouts(real=windows.full, imagined=full, act=windows.act, num_context=num_context),
    }
    out: dict = {"num_rollouts": len(windows), "horizon": int(low.shape[1])}
    for res, rollouts in per_res.items():
        model, copy = rollouts.psnr_per_step(), rollouts.psnr_copy_context_per_step()
        out[f"psnr_{res}"] = [float(v) for v in model]
        out[f"psnr_copy_last_{res}"] = [float(v) for v in copy]
        out[f"mean_psnr_{res}"] = float(np.mean(model))
        out[f"mean_psnr_copy_last_{res}"] = float(np.mean(copy))
    out["windows"] = [list(s) for s in windows.segments]
    return out
