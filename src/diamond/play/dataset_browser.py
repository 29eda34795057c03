"""Frame-by-frame navigation through episode stores (collected data, recordings of ``diamond play``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diamond.data.store import action_space_of
from diamond.errors import InvalidValue

JUMP = 10


@dataclass
class BrowserView:
    obs: np.ndarray  # (C, H, W) uint8
    dataset: str
    dataset_index: int
    num_datasets: int
    episode: int
    num_episodes: int
    timestep: int
    length: int  # the episode's transitions; timestep == length shows its final observation
    action_name: str  # the action taken in this frame ("-" on the final observation)
    reward: float  # the reward that action received
    return_so_far: float  # the sum of rewards up to this frame
    flags: str  # "end", "trunc" or "" for the transition leaving this frame
    note: str  # where the episode came from (its recorded info)

    def image(self) -> np.ndarray:
        return np.ascontiguousarray(self.obs.transpose(1, 2, 0))


class DatasetBrowser:
    """One position (dataset, episode, timestep) and the moves between positions.

    Moving past either end of an episode stops at the end; episodes and datasets wrap around.
    """

    def __init__(self, paths: list[str | Path]) -> None:
        from diamond.data import EpisodeStore

        if not paths:
            raise InvalidValue("give at least one dataset folder to browse")
        self.stores = []
        for path in map(Path, paths):
            if not path.exists():
                raise InvalidValue(f"dataset folder {path} does not exist")
            if not (path / "metadata.json").exists():
                raise InvalidValue(
                    f"dataset folder {path} is not an episode store (no metadata.json); "
                    "make one with `diamond collect` or `diamond play --record`"
                )
            store = EpisodeStore.open(path, read_only=True)
            if len(store) == 0:
                raise InvalidValue(f"dataset folder {path} holds no episodes")
            self.stores.append(store)
        self.paths = [Path(p) for p in paths]
        self.d = self.e = self.t = 0

    # -- moves -------------------------------------------------------------------------------------

    def _length(self) -> int:
        return int(self.stores[self.d].lengths[self.e])

    def move_step(self, delta: int) -> None:
        self.t = min(max(self.t + delta, 0), self._length())

    def move_episode(self, delta: int) -> None:
        self.e = (self.e + delta) % len(self.stores[self.d])
        self.t = 0

    def move_dataset(self, delta: int) -> None:
        self.d = (self.d + delta) % len(self.stores)
        self.e = self.t = 0

    def to_start(self) -> None:
        self.t = 0

    def refresh(self) -> None:
        """See episodes added since opening (a recording in progress)."""
        for store in self.stores:
            store.refresh()

    # -- what is shown -------------------------------------------------------------------------------

    def view(self) -> BrowserView:
        store = self.stores[self.d]
        episode = store.get(self.e)
        space = action_space_of(store.metadata, str(self.paths[self.d]))
        t, length = self.t, len(episode)
        last = t == length
        obs = episode.final_obs if last else episode.obs[t]
        act = None if last else episode.act[t]
        flags = "" if last else "end" if episode.end[t] else "trunc" if episode.trunc[t] else ""
        note = ", ".join(f"{k}={v}" for k, v in episode.info.items() if isinstance(v, (str, int, float)))
        return BrowserView(
            obs=obs,
            dataset=str(self.paths[self.d]),
            dataset_index=self.d,
            num_datasets=len(self.stores),
            episode=self.e,
            num_episodes=len(store),
            timestep=t,
            length=length,
            action_name="-" if act is None else space.describe(act) if space is not None else str(act),
            reward=0.0 if last else float(episode.rew[t]),
            return_so_far=float(episode.rew[:t].sum()),
            flags=flags,
            note=note,
        )

    def close(self) -> None:
        for store in self.stores:
            store.close()
