"""A writer process for the crash-safety test: adds big deterministic episodes until it is killed.

Usage: python crash_writer.py STORE_DIR. Prints each completed episode id on its own line, flushed, so
the test knows exactly which adds returned before the SIGKILL (spec §3 store: crash safety).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from diamond.data import Episode, EpisodeStore

OBS_SHAPE = (3, 64, 64)
NUM_ACTIONS = 18
METADATA = {"env": "crash-test", "obs_shape": list(OBS_SHAPE), "num_actions": NUM_ACTIONS}


def episode_for_id(episode_id: int) -> Episode:
    """Deterministic content from the id alone: 200-349 steps of random frames, 2.4-4.3 MB."""
    rng = np.random.default_rng(episode_id)
    length = 200 + (episode_id * 37) % 150
    return Episode(
        obs=rng.integers(0, 256, size=(length, *OBS_SHAPE), dtype=np.uint8),
        act=rng.integers(0, NUM_ACTIONS, size=length),
        rew=rng.normal(size=length).astype(np.float32),
        end=(np.arange(length) == length - 1).astype(np.uint8),
        trunc=np.zeros(length, dtype=np.uint8),
        final_obs=rng.integers(0, 256, size=OBS_SHAPE, dtype=np.uint8),
        info={"episode_id": episode_id},
    )


def main(root: str) -> None:
    if os.path.exists(os.path.join(root, "metadata.json")):
        store = EpisodeStore.open(root, expected_metadata=METADATA)
    else:
        store = EpisodeStore.create(root, METADATA)
    while True:
        episode_id = store.add(episode_for_id(len(store)))
        print(episode_id, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
