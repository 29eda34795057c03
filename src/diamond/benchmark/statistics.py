"""Aggregate statistics of human-normalised scores, computed by rliable (Agarwal et al., NeurIPS 2021).

Scores are (runs × games) matrices of human-normalised scores (HNS). Intervals are 95% stratified-
bootstrap confidence intervals (percentile method). rliable is imported lazily: it is an optional
dependency (``pip install -e .[report]``), needed only for ``diamond report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

METRICS: tuple[str, ...] = ("mean", "median", "iqm", "optimality_gap")
METRIC_NAMES = {"mean": "Mean", "median": "Median", "iqm": "IQM", "optimality_gap": "Optimality gap"}


def _rliable() -> tuple[Any, Any]:
    try:
        from rliable import library, metrics
    except ImportError as exc:  # the report's one optional dependency chain
        raise ImportError(
            "diamond report needs rliable; install it with `pip install -e .[report]` "
            f"(rliable, pandas<3, arch<8): {exc}"
        ) from exc
    return library, metrics


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float

    def as_list(self) -> list[float]:
        return [self.point, self.low, self.high]


def _aggregates(scores: np.ndarray) -> np.ndarray:
    _, m = _rliable()
    return np.array(
        [
            m.aggregate_mean(scores),
            m.aggregate_median(scores),
            m.aggregate_iqm(scores),
            m.aggregate_optimality_gap(scores),
        ]
    )


def point_aggregates(scores: np.ndarray) -> dict[str, float]:
    """Mean, median, IQM and optimality gap (γ = 1) of a (runs × games) HNS matrix."""
    return dict(zip(METRICS, map(float, _aggregates(np.asarray(scores, dtype=np.float64)))))


def aggregate_intervals(scores: dict[str, np.ndarray], reps: int, seed: int = 0) -> dict[str, dict[str, Interval]]:
    """Per method: each metric's point estimate and 95% stratified-bootstrap CI (runs resampled per game).

    With one run per game the bootstrap has nothing to resample and the interval is the point itself.
    """
    library, _ = _rliable()
    out = {}
    for name, matrix in scores.items():
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape[0] == 1:  # nothing to resample: skip the bootstrap
            out[name] = {m: Interval(v, v, v) for m, v in point_aggregates(matrix).items()}
            continue
        points, cis = library.get_interval_estimates(
            {name: matrix}, _aggregates, reps=reps, random_state=np.random.RandomState(seed)
        )
        out[name] = {
            m: Interval(float(points[name][i]), float(cis[name][0, i]), float(cis[name][1, i]))
            for i, m in enumerate(METRICS)
        }
    return out


def performance_profiles(
    scores: dict[str, np.ndarray], taus: np.ndarray, reps: int, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run-score distributions: the fraction of runs with HNS > τ for each τ, with 95% CIs (2, len(taus))."""
    library, _ = _rliable()
    state = np.random.get_state()
    np.random.seed(seed)  # rliable's profile bootstrap draws from numpy's global generator
    try:
        return library.create_performance_profile(
            {k: np.asarray(v, dtype=np.float64) for k, v in scores.items()}, taus, reps=reps
        )
    finally:
        np.random.set_state(state)


def probability_of_improvement(x: np.ndarray, y: np.ndarray, reps: int, seed: int = 0) -> Interval:
    """P(X > Y): per game, the probability that a run of X beats a run of Y (Mann-Whitney), averaged over
    games; the CI resamples the runs of X and of Y independently within each game."""
    library, m = _rliable()
    points, cis = library.get_interval_estimates(
        {"x_vs_y": (np.asarray(x, float), np.asarray(y, float))},
        m.probability_of_improvement,
        reps=reps,
        random_state=np.random.RandomState(seed),
    )
    low, high = np.ravel(cis["x_vs_y"])
    return Interval(float(points["x_vs_y"]), float(low), float(high))


def superhuman_count(game_means: dict[str, float], human: dict[str, float]) -> int:
    """Number of games whose mean score is at least the human score."""
    return sum(score >= human[game] for game, score in game_means.items())
