"""Recording engine play into a static dataset folder: the layout ``diamond import-hdf5`` writes and
``diamond train-engine`` reads, so played episodes are training data as they are.

Each played episode is added to the train split at both resolutions under one name (``played_...``), in
the order and with the manifest an import uses, so a crash mid-episode is undone the same way on the next
open. A new folder becomes a dataset with no held-out split; an existing dataset (an import, or an
earlier recording) is appended to, its split untouched. ``diamond browse FOLDER/train/full_res`` shows it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from diamond.data.episode import Episode
from diamond.data.static_import import open_stores, prepare_output, reconcile
from diamond.fileio import write_json_atomically
from diamond.layout import StaticDataset


class EngineRecorder:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        prepare_output(self.root, None, source="play", any_split=True)
        self.stores = open_stores(self.root)
        try:
            self.imported = reconcile(self.root, self.stores, lambda msg: print(msg, file=sys.stderr, flush=True))
        except BaseException:
            self.close()
            raise
        self.episodes_stored = 0
        self._low: list[np.ndarray] = []
        self._full: list[np.ndarray] = []
        self._act: list[np.ndarray] = []

    def add(self, low: np.ndarray, full: np.ndarray, action: np.ndarray) -> None:
        """One step: ``action`` (51,) taken in the frame whose two resolutions are ``low`` and ``full``."""
        self._low.append(np.asarray(low, dtype=np.uint8).copy())
        self._full.append(np.asarray(full, dtype=np.uint8).copy())
        self._act.append(np.asarray(action, dtype=np.float32).copy())

    def finish(
        self, final_low: np.ndarray, final_full: np.ndarray, info: dict[str, Any], ended: bool = False
    ) -> int | None:
        """Store the episode played since the last call, ending in the final frame; returns its id in the
        train split (None if no step was played). It ends truncated (play stopped), or ``ended`` (a death
        in the real game)."""
        if not self._act:
            return None
        if not self.stores:
            raise RuntimeError(f"the recording to {self.root} is closed")
        name = self._new_name()
        t = len(self._act)
        end, trunc = np.zeros(t, dtype=np.uint8), np.zeros(t, dtype=np.uint8)
        (end if ended else trunc)[-1] = 1
        act = np.stack(self._act)
        for res, frames, final in (("low_res", self._low, final_low), ("full_res", self._full, final_full)):
            episode = Episode(
                obs=np.stack(frames),
                act=act,
                rew=np.zeros(t, dtype=np.float32),
                end=end,
                trunc=trunc,
                final_obs=np.asarray(final, dtype=np.uint8),
                info={**info, "source_file": name},
            )
            episode_id = self.stores["train", res].add(episode)  # low_res first, as an import does
        self.imported["train"].append(name)
        write_json_atomically(self.root / StaticDataset.IMPORTED, self.imported)
        self._low, self._full, self._act = [], [], []
        self.episodes_stored += 1
        return episode_id

    def _new_name(self) -> str:
        taken = {n for names in self.imported.values() for n in names}
        stamp = time.strftime("%Y%m%d-%H%M%S")
        k = 0
        while f"played_{stamp}_{k}" in taken:
            k += 1
        return f"played_{stamp}_{k}"

    def close(self) -> None:
        for store in self.stores.values():
            store.close()
        self.stores = {}
