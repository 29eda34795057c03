"""The studies' measures, as pure functions of uint8 frames.

- Drift out of the data distribution: the distance from each frame to its nearest neighbour among real
  training frames, both seen at a low resolution. A plausible future that differs from the recorded one
  stays close to *some* real frame; a frame that has drifted (washed-out colours, smeared objects, noise)
  does not. Held-out real frames give the level of an in-distribution frame.
- Sharpness: the energy of the discrete Laplacian (the mean squared second difference of the grey image)
  over a region; blur removes high frequencies and lowers it.
- The Boxing regions: the player the agent controls is drawn white, the opponent black, on a green ring.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def frame_features(frames: np.ndarray, size: int) -> torch.Tensor:
    """(N, C, H, W) uint8 → (N, C·size·size) float32 in [0, 1]: area-averaged to size × size."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().div(255)
    return F.adaptive_avg_pool2d(x, size).flatten(1)


def nearest_distances(queries: torch.Tensor, bank: torch.Tensor, chunk: int = 2048) -> np.ndarray:
    """(N,) Euclidean distance from each query row to its nearest row of ``bank``, RMS-normalised per feature."""
    if len(bank) == 0:
        raise ValueError("nearest_distances: the bank of real frames is empty")
    out = [torch.cdist(queries[i : i + chunk], bank).min(dim=1).values for i in range(0, len(queries), chunk)]
    return (torch.cat(out) / queries.shape[1] ** 0.5).numpy()


def laplacian_energy(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(N,) mean squared Laplacian of the grey image (0–255 scale) over each frame's mask (NaN where empty)."""
    grey = torch.from_numpy(np.ascontiguousarray(frames)).float().mean(dim=1, keepdim=True)
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    lap = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernel)[:, 0].numpy() ** 2
    m = masks.astype(np.float64)
    count = m.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (lap * m).sum(axis=(1, 2)) / count, np.nan)


def colour_region(frames: np.ndarray, colour: str, pad: int = 2) -> np.ndarray:
    """(N, H, W) bool: the bounding box, grown by ``pad`` pixels, of the white (every channel >= 170) or black
    (every channel <= 60) pixels of each frame inside the Boxing ring (rows and columns away from the border
    and the score line); an empty mask where there are none."""
    if colour not in ("white", "black"):
        raise ValueError(f"colour_region: colour={colour!r}; expected 'white' or 'black'")
    n, _, h, w = frames.shape
    pixels = frames.min(axis=1) >= 170 if colour == "white" else frames.max(axis=1) <= 60
    inside = np.zeros((h, w), bool)
    inside[h * 8 // 64 : h * 58 // 64, w * 4 // 64 : w * 60 // 64] = True  # the ring, below the scores
    pixels &= inside
    masks = np.zeros((n, h, w), bool)
    for i in range(n):
        rows, cols = np.nonzero(pixels[i])
        if len(rows):
            masks[
                i, max(rows.min() - pad, 0) : rows.max() + pad + 1, max(cols.min() - pad, 0) : cols.max() + pad + 1
            ] = True
    return masks


def psnr_per_frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) PSNR in dB between uint8 frames a[i] and b[i] (infinite where identical)."""
    err = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / err)
