"""A static dataset for the engine (spec §10), one split of it: the same episodes at low resolution (the
dynamics model's frames) and at full resolution (the upsampler's), in two episode stores with matching
episode ids, read a few frames at a time so that no episode needs to sit in memory.

Frame i of an episode is ``all_obs()[i]`` (its T transitions' frames, then the final one), and its action
is ``act[i]``; the last frame's action is kept in the episode's info as ``last_action``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diamond.data.store import EpisodeStore, action_space_of
from diamond.errors import InvalidValue
from diamond.layout import StaticDataset
from diamond.spaces import ActionSpace


class EngineSplit:
    """One split (train or test) of a static dataset, opened read-only."""

    def __init__(self, root: str | Path, split: str) -> None:
        self.root, self.split = Path(root), split
        stores = {}
        for res in StaticDataset.RESOLUTIONS:
            path = Path(root) / StaticDataset.store(split, res)
            if not (path / "metadata.json").exists():
                raise InvalidValue(
                    f"{root}: no {split}/{res} episode store at {path}; a static dataset holds "
                    f"{'/'.join(StaticDataset.SPLITS)} × {'/'.join(StaticDataset.RESOLUTIONS)} stores "
                    "(make one with `diamond import-hdf5`)"
                )
            stores[res] = EpisodeStore.open(path, read_only=True, cache_in_ram=False)
        self.low, self.full = stores["low_res"], stores["full_res"]
        if len(self.low) != len(self.full) or not np.array_equal(self.low.lengths, self.full.lengths):
            raise InvalidValue(
                f"{root}/{split}: the low_res store holds {len(self.low)} episodes and the full_res store "
                f"{len(self.full)} (or their lengths differ); they must hold the same episodes"
            )
        space = action_space_of(self.low.metadata, f"{path.parent}/low_res")
        if space is None:
            raise InvalidValue(f"{root}/{split}/low_res: its metadata records no action space")
        self.action_space: ActionSpace = space
        self.lengths = np.asarray(self.low.lengths, dtype=np.int64) + 1  # frames per episode
        self._actions: dict[int, np.ndarray] = {}  # per episode, read once (A floats per frame: small)

    def __len__(self) -> int:
        return len(self.low)

    def require_frames(self, frames: int, what: str) -> None:
        """Refuse a split without an episode of ``frames`` frames, which ``what`` needs."""
        longest = int(self.lengths.max()) if len(self) else 0
        if longest < frames:
            held = f"{len(self)} episodes, the longest of {longest} frames" if len(self) else "no episode"
            hint = " (a dataset imported with --test-split none has an empty test split)" if not len(self) else ""
            raise InvalidValue(
                f"{self.root}/{self.split}: {what} needs an episode of at least {frames} frames; it holds {held}{hint}"
            )

    def low_res(self, episode: int, start: int, stop: int) -> np.ndarray:
        """Frames start..stop-1 at low resolution: (n, C, h, w) uint8."""
        return self.low.read_obs(episode, start, stop)

    def full_res(self, episode: int, start: int, stop: int) -> np.ndarray:
        """Frames start..stop-1 at full resolution: (n, C, H, W) uint8."""
        return self.full.read_obs(episode, start, stop)

    def actions(self, episode: int, start: int, stop: int) -> np.ndarray:
        """The actions of frames start..stop-1: (n, A) float32."""
        if episode not in self._actions:
            ep = self.low.get(episode)
            act = np.asarray(ep.act, dtype=np.float32)
            last = np.asarray(ep.info.get("last_action", np.zeros(act.shape[1:])), dtype=np.float32)
            self._actions[episode] = np.concatenate([act, last[None]])
        return self._actions[episode][start:stop]

    def close(self) -> None:
        self.low.close()
        self.full.close()
