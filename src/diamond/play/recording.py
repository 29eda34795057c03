"""Recording played episodes into an episode store, which the dataset browser (and training) can open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from diamond.data.episode import Episode


class EpisodeRecorder:
    """Buffers the transitions of the episode being played and stores it when it ends.

    An episode cut short (a reset, a switch of source, quitting) is stored too, its last step marked
    truncated, so nothing played is lost. ``root`` is created as a new store, or opened and appended
    to if it already holds one recorded from the same game (anything else is refused, untouched).
    """

    def __init__(self, root: str | Path, metadata: dict[str, Any]) -> None:
        from diamond.jobs import open_or_create_store

        self.root = Path(root)
        self.store = open_or_create_store(self.root, metadata)
        self.episodes_stored = 0
        self._clear()

    def _clear(self) -> None:
        self.obs: list[np.ndarray] = []
        self.act: list[int] = []
        self.rew: list[float] = []
        self.end: list[bool] = []
        self.trunc: list[bool] = []

    def add(self, obs: np.ndarray, act: int, rew: float, end: bool, trunc: bool) -> None:
        """One transition: ``act`` taken in ``obs`` gave ``rew`` and the end/trunc flags."""
        self.obs.append(np.asarray(obs, dtype=np.uint8))
        self.act.append(int(act))
        self.rew.append(float(rew))
        self.end.append(bool(end))
        self.trunc.append(bool(trunc))

    def finish(self, final_obs: np.ndarray, info: dict[str, Any]) -> int | None:
        """Store the buffered episode ending in ``final_obs``; returns its id (None if nothing was played)."""
        if not self.obs:
            return None
        trunc = np.array(self.trunc, dtype=np.uint8)
        end = np.array(self.end, dtype=np.uint8)
        if not (end[-1] or trunc[-1]):
            trunc[-1] = 1  # cut short: stored as a time-limit ending
        episode = Episode(obs=np.stack(self.obs), act=np.array(self.act, dtype=np.int64),
                          rew=np.array(self.rew, dtype=np.float32), end=end, trunc=trunc,
                          final_obs=np.asarray(final_obs, dtype=np.uint8), info=dict(info))
        self._clear()
        if self.store is None:
            raise RuntimeError(f"the recording to {self.root} is closed")
        episode_id = self.store.add(episode)
        self.episodes_stored += 1
        return episode_id

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
