"""Running whole evaluation episodes with a policy (spec §1: 4 every 10 epochs, 100 at the end)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from diamond.data.episode import Episode
from diamond.envs.base import VectorEnv
from diamond.training.collector import Collector, Policy


class EpisodeList:
    """Episodes kept in memory, readable by the segment sampler (a test set cleared at each evaluation)."""

    def __init__(self) -> None:
        self.episodes: list[Episode] = []
        self.read_only = True

    def add(self, episode: Episode) -> int:
        self.episodes.append(episode)
        return len(self.episodes) - 1

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(e) for e in self.episodes], dtype=np.int64)

    def get(self, episode_id: int) -> Episode:
        return self.episodes[episode_id]


@dataclass
class EpisodeReturns:
    """The returns and lengths of whole episodes, and the episodes themselves (if kept)."""

    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    episodes: EpisodeList = field(default_factory=EpisodeList)

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))


def run_evaluation_episodes(
    env: VectorEnv,
    policy: Policy,
    num_episodes: int,
    seed: int,
    epsilon: float = 0.0,
    keep_episodes: bool = True,
    max_steps: int = 0,
) -> EpisodeReturns:
    """Exactly ``num_episodes`` complete episodes, each env running a fixed quota of them.

    Fixed quotas, not "the first N to finish", so short episodes are not over-represented. ``max_steps``
    (> 0) caps the agent steps, after which unfinished episodes count as they stand (a safety net for
    policies that never end an episode; such an episode is recorded as truncated).
    """
    if num_episodes < 1:
        raise ValueError(f"run_evaluation_episodes: num_episodes must be >= 1, got {num_episodes}")
    n = env.num_envs
    quotas = [num_episodes // n + (1 if i < num_episodes % n else 0) for i in range(n)]
    result = EpisodeReturns()
    sink = result.episodes if keep_episodes else EpisodeList()
    done_per_env = [0] * n

    class QuotaSink:
        def add(self, episode: Episode) -> int:
            i = episode.info["env_index"]
            if done_per_env[i] < quotas[i]:
                done_per_env[i] += 1
                result.returns.append(episode.return_)
                result.lengths.append(len(episode))
                return sink.add(episode)
            return -1

    collector = Collector(env, QuotaSink(), policy, epsilon=epsilon, seed=seed)
    steps = 0
    while any(d < q for d, q in zip(done_per_env, quotas)):
        if max_steps and steps >= max_steps:
            collector.end_partial_episodes()
            break
        collector.collect(n)
        steps += 1
    return result


def mean_ci95(values: list[float]) -> tuple[float, float, float]:
    """Mean and its 95% confidence interval by the normal approximation (mean ± 1.96 · s / √n)."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = 1.96 * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half
