"""Episodes, the crash-safe on-disk episode store and segment sampling (spec §3)."""

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
    "read_episode_file",
    "segment_bounds",
]
