"""The studies' figures: frame grids (the layout of the paper's Figures 3 and 4), curves and bar charts."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def frame_grids(
    panels: dict[str, np.ndarray], row_labels: list[str], col_labels: list[str], path: Path, title: str
) -> Path:
    """Panels side by side, each a (rows, cols, C, H, W) uint8 grid of frames, one label per row and column."""
    plt = _plt()
    rows, cols = len(row_labels), len(col_labels)
    fig, axes = plt.subplots(
        rows, cols * len(panels), figsize=(1.1 * cols * len(panels) + 0.6, 1.2 * rows + 0.8), dpi=110, squeeze=False
    )
    for p, (name, grid) in enumerate(panels.items()):
        for r in range(rows):
            for c in range(cols):
                ax = axes[r, p * cols + c]
                ax.imshow(grid[r, c].transpose(1, 2, 0), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"{name}\n{col_labels[c]}" if c == 0 else col_labels[c], fontsize=7)
                if c == 0 and p == 0:
                    ax.set_ylabel(row_labels[r], fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def horizon_curves(
    steps: np.ndarray,
    psnr: dict[str, dict[int, np.ndarray]],
    drift: dict[str, dict[int, np.ndarray]],
    real_drift: np.ndarray,
    path: Path,
) -> Path:
    """(a) PSNR against the recorded frames and (b) distance to the nearest real frame, over the horizon:
    one colour per number of denoising steps, solid for EDM and dashed for DDPM."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    ns = sorted({n for curves in psnr.values() for n in curves})
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(ns)))
    for model, style in (("ddpm", "--"), ("edm", "-")):
        for n, colour in zip(ns, colours):
            a.plot(steps, np.minimum(psnr[model][n], 60), style, color=colour, label=f"{model.upper()} n={n}")
            b.plot(steps, drift[model][n], style, color=colour, label=f"{model.upper()} n={n}")
    b.plot(steps, real_drift, ":", color="black", lw=2, label="held-out real frames")
    a.set(xlabel="imagined step", ylabel="PSNR vs recorded frame (dB)", title="(a) error against the real frames")
    b.set(xlabel="imagined step", ylabel="distance to nearest real frame", title="(b) drift out of the data")
    for ax in (a, b):
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    b.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def sharpness_bars(ratios: dict[int, dict[str, float]], path: Path) -> Path:
    """Grouped bars: per number of denoising steps, the sharpness kept in each region (1 = as sharp as real)."""
    plt = _plt()
    ns = sorted(ratios)
    regions = list(ratios[ns[0]])
    width = 0.8 / len(regions)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    for k, region in enumerate(regions):
        ax.bar(np.arange(len(ns)) + k * width, [ratios[n][region] for n in ns], width, label=region)
    ax.axhline(1.0, color="black", lw=1, ls=":")
    ax.set_xticks(np.arange(len(ns)) + width * (len(regions) - 1) / 2, [f"n={n}" for n in ns])
    ax.set_ylabel("Laplacian energy, predicted / real")
    ax.set_title("Sharpness of one-step predictions by region")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
