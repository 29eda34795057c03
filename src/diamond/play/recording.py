"""Recording played episodes into an episode store, which the dataset browser (and training) can open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from diamond.data.episode import EpisodeBuffer


class EpisodeRecorder:
    """Buffers the transitions of the episode being played and stores it when it ends.

    An episode cut short (a reset, a switch of source, quitting) is stored too, its last step marked
    truncated, so nothing played is lost. ``root`` is created as a new store, or opened and appended
    to if it already holds one recorded from the same game (anything else is refused, untouched).
    """

    def __init__(self, root: str | Path, metadata: dict[str, Any]) -> None:
        from diamond.data.datasets import open_or_create_store

        self.root = Path(root)
        self.store = open_or_create_store(self.root, metadata)
        self.episodes_stored = 0
        self.buffer = EpisodeBuffer()

    def add(self, obs: np.ndarray, act: int, rew: float, end: bool, trunc: bool) -> None:
        """One transition: ``act`` taken in ``obs`` gave ``rew`` and the end/trunc flags."""
        self.buffer.append(np.asarray(obs, dtype=np.uint8), int(act), float(rew), int(end), int(trunc))

    def finish(self, final_obs: np.ndarray, info: dict[str, Any]) -> int | None:
        """Store the buffered episode ending in ``final_obs``; returns its id (None if nothing was played)."""
        if len(self.buffer) == 0:
            return None
        episode = self.buffer.to_episode(final_obs, dict(info))
        self.buffer = EpisodeBuffer()
        if not (episode.end[-1] or episode.trunc[-1]):
            episode.trunc[-1] = 1  # cut short: stored as a time-limit ending
        if self.store is None:
            raise RuntimeError(f"the recording to {self.root} is closed")
        episode_id = self.store.add(episode)
        self.episodes_stored += 1
        return episode_id

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
