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
            raise ValueError(
                f"{where}: obs must be a (T, C, H, W) uint8 array, got shape {self.obs.shape} dtype {self.obs.dtype}"
            )
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


class EpisodeBuffer:
    """The transitions of a running episode, appended one at a time (collection, recording of play)."""

    def __init__(self) -> None:
        self.obs: list[np.ndarray] = []
        self.act: list[Any] = []  # ints (discrete) or float vectors (the other action kinds)
        self.rew: list[float] = []
        self.end: list[int] = []
        self.trunc: list[int] = []

    def __len__(self) -> int:
        return len(self.act)

    def append(self, obs: np.ndarray, act: Any, rew: float, end: int, trunc: int) -> None:
        self.obs.append(obs)
        self.act.append(act)
        self.rew.append(rew)
        self.end.append(end)
        self.trunc.append(trunc)

    def to_episode(self, final_obs: np.ndarray, info: dict[str, Any]) -> Episode:
        return Episode(
            obs=np.stack(self.obs).astype(np.uint8, copy=False),
            act=_stacked_actions(self.act),
            rew=np.asarray(self.rew, dtype=np.float32),
            end=np.asarray(self.end, dtype=np.uint8),
            trunc=np.asarray(self.trunc, dtype=np.uint8),
            final_obs=np.array(final_obs, dtype=np.uint8),
            info=info,
        )

    def state(self) -> dict[str, np.ndarray]:
        return {
            "obs": np.stack(self.obs) if self.obs else np.zeros((0,), np.uint8),
            "act": _stacked_actions(self.act),
            "rew": np.asarray(self.rew, dtype=np.float32),
            "end": np.asarray(self.end, dtype=np.uint8),
            "trunc": np.asarray(self.trunc, dtype=np.uint8),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> EpisodeBuffer:
        p = cls()
        n = len(state["act"])
        p.obs = [np.asarray(state["obs"][t], dtype=np.uint8) for t in range(n)]
        p.act = list(np.asarray(state["act"]))
        p.rew = [float(r) for r in state["rew"]]
        p.end = [int(e) for e in state["end"]]
        p.trunc = [int(t) for t in state["trunc"]]
        return p


def _stacked_actions(actions: list[Any]) -> np.ndarray:
    """(T,) int64 for discrete actions, (T, A) float32 for vectors; an empty list is (0,) int64."""
    arr = np.asarray(actions) if actions else np.zeros((0,), np.int64)
    return arr.astype(np.int64 if arr.dtype.kind in "biu" else np.float32, copy=False)
