"""Conversions between stored uint8 frames and the models' [-1, 1] floats, and image metrics (spec §2, §4)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def to_model_range(frames_uint8: Tensor) -> Tensor:
    """uint8 [0, 255] → float32 [-1, 1] (x / 255 · 2 − 1)."""
    return frames_uint8.float().div(255).mul(2).sub(1)


def quantize(x: Tensor) -> Tensor:
    """Clamp to [-1, 1] and snap to the 256 uint8 levels by truncation (spec §4), staying in [-1, 1]."""
    return to_model_range(to_uint8(x))


def to_uint8(x: Tensor) -> Tensor:
    """float [-1, 1] → uint8 by truncation: q = floor((x + 1) / 2 · 255) (spec §4)."""
    return x.clamp(-1, 1).add(1).div(2).mul(255).to(torch.uint8)


def to_display(x: Tensor) -> Tensor:
    """float [-1, 1] → uint8 by rounding: the exact inverse of ``to_model_range`` on frames already on the
    256 levels (sampled frames are). ``to_uint8`` truncates as spec §4 quantisation does, so on such frames
    float error costs a quarter of the levels one step; use this one to show or store sampled frames."""
    return x.clamp(-1, 1).add(1).div(2).mul(255).round().to(torch.uint8)


def downscale_frames(frames_uint8: np.ndarray, size: tuple[int, int], chunk: int = 64) -> np.ndarray:
    """(T, C, H, W) uint8 frames resized to ``size`` (H, W) as the reference makes the CS:GO low-resolution
    frames (spec §10): as floats in [-1, 1], bicubic (align_corners=False), back to uint8 by rounding.

    Done ``chunk`` frames at a time, so a 1,000-frame full-resolution episode needs no gigabytes of floats.
    """
    frames = np.asarray(frames_uint8)
    if frames.ndim != 4 or frames.dtype != np.uint8:
        raise ValueError(f"downscale_frames: expected (T, C, H, W) uint8 frames, got {frames.shape} {frames.dtype}")
    out = torch.empty((frames.shape[0], frames.shape[1], *size), dtype=torch.uint8)
    for start in range(0, frames.shape[0], chunk):
        x = to_model_range(torch.from_numpy(np.array(frames[start : start + chunk])))  # any strides, any flags
        y = torch.nn.functional.interpolate(x, size=size, mode="bicubic", align_corners=False)
        out[start : start + chunk] = to_display(y)
    return out.numpy()


def psnr(a: np.ndarray | Tensor, b: np.ndarray | Tensor, mask: np.ndarray | Tensor | None = None) -> float:
    """Peak signal-to-noise ratio in dB between uint8 images (peak 255), optionally over masked pixels only."""
    a = torch.as_tensor(np.asarray(a) if not isinstance(a, Tensor) else a).double()
    b = torch.as_tensor(np.asarray(b) if not isinstance(b, Tensor) else b).double()
    err = (a - b) ** 2
    if mask is not None:
        mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, Tensor) else mask).bool()
        err = err[mask.expand_as(err)]
        if err.numel() == 0:
            return float("nan")
    mse = err.mean().item()
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
