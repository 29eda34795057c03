"""The report's figures (matplotlib, Agg backend): aggregate intervals, performance profiles, per-game
human-normalised scores and learning curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from diamond.benchmark.statistics import METRIC_NAMES, METRICS, Interval  # noqa: E402

OURS_COLOUR = "#d62728"
METHOD_COLOURS = {
    "SimPLe": "#8c564b",
    "TWM": "#9467bd",
    "IRIS": "#2ca02c",
    "DreamerV3": "#ff7f0e",
    "STORM": "#17becf",
    "DIAMOND": "#1f77b4",
}


def colour(name: str) -> str:
    return METHOD_COLOURS.get(name.split(" ")[0], OURS_COLOUR)


def aggregate_plot(aggregates: dict[str, dict[str, Interval]], path: Path, title: str) -> None:
    names = list(aggregates)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 0.45 * len(names) + 1.4), sharey=True)
    for ax, metric in zip(axes, METRICS):
        for i, name in enumerate(names):
            iv = aggregates[name][metric]
            if iv.high > iv.low:
                ax.barh(i, iv.high - iv.low, left=iv.low, height=0.6, color=colour(name), alpha=0.75)
                ax.plot([iv.point, iv.point], [i - 0.3, i + 0.3], color="black", lw=1.5)
            else:  # a point estimate only (per-game means published, no per-seed scores)
                ax.plot(iv.point, i, "o", color=colour(name), ms=7)
        ax.margins(x=0.12)
        ax.set_title(METRIC_NAMES[metric])
        ax.set_xlabel("human-normalised score")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def profile_plot(
    taus: np.ndarray, profiles: dict[str, np.ndarray], cis: dict[str, np.ndarray], path: Path, title: str
) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, profile in profiles.items():
        ax.plot(taus, profile, color=colour(name), label=name, lw=2 if name.startswith(("DIAMOND", "ours")) else 1.2)
        low, high = cis[name]
        if np.any(high > low):
            ax.fill_between(taus, low, high, color=colour(name), alpha=0.2)
    ax.axvline(1.0, color="grey", ls=":", lw=1)
    ax.set_xlabel("human-normalised score τ")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def per_game_plot(games: list[str], hns: dict[str, list[float]], path: Path) -> None:
    names = list(hns)
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(min(20.0, 3.0 + 0.1 * len(games) * len(names)), 4.5))
    x = np.arange(len(games))
    for i, name in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2) * width, hns[name], width, color=colour(name), label=name)
    ax.axhline(1.0, color="grey", ls=":", lw=1)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xticks(x, games, rotation=60, ha="right")
    ax.set_ylabel("human-normalised score (symlog)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=min(len(names), 4))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def learning_curves_plot(curves: dict[str, dict[int, list[tuple[int, float]]]], path: Path) -> None:
    """curves: game -> seed -> [(agent steps, mean test return)]."""
    games = list(curves)
    cols = min(4, len(games))
    rows = -(-len(games) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    for ax, game in zip(axes.flat, games):
        for seed, points in sorted(curves[game].items()):
            if points:
                steps, returns = zip(*points)
                ax.plot(steps, returns, marker="o", ms=3, label=f"seed {seed}")
        ax.set_title(game, fontsize=9)
        ax.set_xlabel("agent steps", fontsize=8)
        ax.set_ylabel("test return", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(games) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
