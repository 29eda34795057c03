"""One episode of experience (spec §3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

OBS_DTYPE = np.uint8


@dataclass
class Episode:
    """Transitions t = 0..T-1 plus the observation reached after the last step.

    obs[t] is the observation the action act[t] was taken in; rew[t], end[t] and trunc[t] describe the
    transition that followed. ``final_obs`` is the true observation after step T-1, so that the
    reward/termination model can see the "next observation" of the last transition.
    """

    obs: np.ndarray  # (T, C, H, W) uint8
    act: np.ndarray  # (T,) int64 for discrete actions, (T, A) float32 for continuous ones
    rew: np.ndarray  # (T,) float32, raw (not clipped)
    end: np.ndarray  # (T,) uint8: terminal for learning (game over, or life loss in the training env)
    trunc: np.ndarray  # (T,) uint8: time limit
    final_obs: np.ndarray  # (C, H, W) uint8
    info: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable metadata (env id, seed, ...)

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def validate(self, where: str = "episode") -> None:
        """Raise a ValueError naming the offending field if the arrays are inconsistent."""
        if self.obs.ndim != 4 or self.obs.dtype != OBS_DTYPE:
            raise ValueError(f"{where}: obs must be a (T, C, H, W) uint8 array, got shape {self.obs.shape} dtype {self.obs.dtype}")
        t = self.obs.shape[0]
        if t < 1:
            raise ValueError(f"{where}: an episode needs at least one transition, got 0")
        for name in ("act", "rew", "end", "trunc"):
            arr = getattr(self, name)
            if arr.shape[:1] != (t,):
                raise ValueError(f"{where}: {name} has length {arr.shape[:1]}, expected ({t},) to match obs")
        if self.final_obs.shape != self.obs.shape[1:] or self.final_obs.dtype != OBS_DTYPE:
            raise ValueError(
                f"{where}: final_obs must be uint8 of shape {self.obs.shape[1:]}, "
                f"got {self.final_obs.shape} {self.final_obs.dtype}"
            )

    @property
    def return_(self) -> float:
        return float(self.rew.sum())

    def all_obs(self) -> np.ndarray:
        """obs_0..obs_T (T + 1 frames): the observations with the final one appended."""
        return np.concatenate([self.obs, self.final_obs[None]], axis=0)
