"""Episodes, the crash-safe on-disk episode store and segment sampling (spec §3)."""

from diamond.data.datasets import open_dataset, open_or_create_store, store_metadata, stored_steps
from diamond.data.episode import Episode
from diamond.data.episode_file import CorruptEpisodeFile, read_episode_file
from diamond.data.sampler import Batch, SegmentSampler, episode_weights, gather_segments, segment_bounds
from diamond.data.store import EpisodeStore, StoreError

__all__ = [
    "Batch",
    "CorruptEpisodeFile",
    "Episode",
    "EpisodeStore",
    "SegmentSampler",
    "StoreError",
    "episode_weights",
    "gather_segments",
    "open_dataset",
    "open_or_create_store",
    "read_episode_file",
    "segment_bounds",
    "store_metadata",
    "stored_steps",
]
