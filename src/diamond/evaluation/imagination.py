"""Open-loop imagination: the world model replays recorded actions from a real context (spec §4).

The denoiser starts from L real frames and then conditions on its own samples, step after step, while
the actions come from the recording. Comparing with the real frames shows how long the model stays
faithful and whether it reacts to the actions (the paddle should follow them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from diamond.configs.schema import SamplerConfig
from diamond.data.sampler import uniform_complete_segments
from diamond.imaging import psnr, to_model_range, to_uint8
from diamond.models.diffusion.formulations import NextFrameDenoiser, slide
from diamond.spaces import ActionSpace


@dataclass
class Rollouts:
    real: np.ndarray  # (B, L + H, C, H, W) uint8: the recorded frames, context included
    imagined: np.ndarray  # (B, H, C, H, W) uint8
    act: np.ndarray  # (B, L + H[, A])
    num_context: int

    def psnr_per_step(self) -> np.ndarray:
        """(H,) PSNR of imagined frame k against real frame L + k, pooled over the rollouts."""
        real = self.real[:, self.num_context :]
        return np.array([psnr(self.imagined[:, k], real[:, k]) for k in range(real.shape[1])])

    def psnr_copy_context_per_step(self) -> np.ndarray:
        """(H,) the baseline of freezing the last real context frame (infinite where nothing has moved)."""
        last = self.real[:, self.num_context - 1]
        real = self.real[:, self.num_context :]
        return np.array([psnr(last, real[:, k]) for k in range(real.shape[1])])


@torch.no_grad()
def imagine_recorded(
    denoiser: NextFrameDenoiser,
    sampler: SamplerConfig,
    real: Tensor,
    act: Tensor,
    seed: int = 0,
    on_step: Callable[[], None] | None = None,
) -> Tensor:
    """Imagine frames L..L+H-1 of ``real`` (B, L + H, C, H, W) uint8 given its first L frames and all actions;
    ``on_step`` is called after each imagined step (for progress)."""
    n = denoiser.context_length
    horizon = real.size(1) - n
    device = denoiser.device
    generator = torch.Generator(device=device).manual_seed(seed)
    frames = to_model_range(real[:, :n].to(device))
    act = act.to(device)
    imagined = []
    for k in range(horizon):
        x, _ = denoiser.sample_next_obs(frames, act[:, k : k + n], sampler, generator=generator)
        imagined.append(to_uint8(x).cpu())
        frames = slide(frames, x)
        if on_step is not None:
            on_step()
    return torch.stack(imagined, dim=1)


def rollouts_from_store(
    denoiser: NextFrameDenoiser, sampler: SamplerConfig, store, count: int, horizon: int, seed: int = 0
) -> Rollouts:
    n = denoiser.context_length
    segments = uniform_complete_segments(store.lengths, count, n + horizon, np.random.default_rng(seed))
    real = np.stack([store.get(e).obs[s : s + n + horizon] for e, s in segments])
    act = np.stack([store.get(e).act[s : s + n + horizon] for e, s in segments])
    imagined = imagine_recorded(denoiser, sampler, torch.from_numpy(real), torch.from_numpy(act), seed)
    return Rollouts(real=real, imagined=imagined.numpy(), act=act, num_context=n)


def side_by_side_frames(rollouts: Rollouts, scale: int = 4, space: ActionSpace | None = None) -> list[np.ndarray]:
    """HWC uint8 video frames: one row per rollout, real on the left and imagined on the right."""
    import cv2

    n = rollouts.num_context
    frames = []
    for k in range(rollouts.imagined.shape[1]):
        rows = []
        for b in range(len(rollouts.real)):
            real = rollouts.real[b, n + k].transpose(1, 2, 0)
            imag = rollouts.imagined[b, k].transpose(1, 2, 0)
            gap = np.full((real.shape[0], 2, 3), 255, np.uint8)
            rows.append(np.concatenate([real, gap, imag], axis=1))
        grid = np.concatenate(rows, axis=0)
        grid = cv2.resize(grid, (grid.shape[1] * scale, grid.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
        header = np.zeros((24, grid.shape[1], 3), np.uint8)
        act = rollouts.act[0, n + k - 1]
        act_text = space.describe(act) if space is not None else str(act)
        cv2.putText(
            header,
            f"real | imagined   step {k + 1}   action {act_text}",
            (4, 17),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        frames.append(np.concatenate([header, grid], axis=0))
    return frames


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 15) -> Path:
    """Write an MP4 (H.264 via imageio-ffmpeg); a .gif path, or a missing ffmpeg, gives a GIF instead."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() != ".gif":
        try:
            # Even dimensions for yuv420p, which every player understands.
            even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
            imageio.mimwrite(path, even, fps=fps, codec="libx264", macro_block_size=1, pixelformat="yuv420p")
            return path
        except Exception:  # no ffmpeg binary available: fall back to a GIF next to the requested path
            path = path.with_suffix(".gif")
    imageio.mimwrite(path, frames, duration=1000 / fps, loop=0)
    return path


def plot_psnr(rollouts: Rollouts, path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    steps = np.arange(1, rollouts.imagined.shape[1] + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot(steps, _finite(rollouts.psnr_per_step()), marker="o", ms=3, label="world model (imagined)")
    ax.plot(steps, _finite(rollouts.psnr_copy_context_per_step()), ls="--", label="last real context frame, frozen")
    ax.set_xlabel("imagined step (agent steps after the real context)")
    ax.set_ylabel("PSNR vs real frame (dB)")
    ax.set_title(title or f"Open-loop imagination, {len(rollouts.real)} rollouts")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _finite(v: np.ndarray, cap: float = 99.0) -> np.ndarray:
    """Identical frames have infinite PSNR; cap it so it can be plotted."""
    return np.minimum(v, cap)
