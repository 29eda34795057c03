"""Segment sampling from stored episodes (spec §3): which episode, which timestep, where the segment lies.

Pure functions (``episode_weights``, ``segment_bounds``, ``gather_segments``) plus ``SegmentSampler``,
which draws from an ``np.random.Generator`` so that a seed reproduces a batch exactly. Draw order per
batch: episode ids, then timesteps, then offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal, Protocol

import numpy as np
import torch

from diamond.data.episode import Episode
from diamond.devices import to_device
from diamond.errors import InvalidValue

RECENCY_WEIGHTS = (0.1, 0.1, 0.1, 0.7)  # spec §3: 4 groups in collection order, most recent last
PLACEMENTS = ("end", "free")
Placement = Literal["end", "free"]


class EpisodeSource(Protocol):
    """What the sampler needs from a store (EpisodeStore, or any static dataset with the same methods)."""

    def __len__(self) -> int: ...

    @property
    def lengths(self) -> np.ndarray: ...

    def get(self, episode_id: int) -> Episode: ...


def episode_weights(
    lengths: Sequence[int] | np.ndarray,
    recency_weights: Sequence[float] = RECENCY_WEIGHTS,
    static: bool = False,
) -> np.ndarray:
    """Probability of choosing each episode (float64, sums to 1), episodes in collection order (spec §3).

    Episodes are split into ``len(recency_weights)`` contiguous groups of ``n // groups`` episodes, the
    remainder going to the last group; a group's weight is shared equally by its episodes. With fewer
    episodes than groups, or for a static dataset, the probability is proportional to episode length.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    n = len(lengths)
    if n == 0:
        raise ValueError("cannot sample segments: the store has no episodes yet")
    if (lengths < 1).any():
        raise ValueError(
            f"episode lengths must be >= 1, got {lengths[lengths < 1][:5]} at ids {np.flatnonzero(lengths < 1)[:5]}"
        )
    groups = np.asarray(recency_weights, dtype=np.float64)
    if groups.ndim != 1 or len(groups) == 0 or (groups < 0).any() or groups.sum() <= 0:
        raise ValueError(f"recency_weights must be non-negative with a positive sum, got {tuple(recency_weights)}")
    if static or n < len(groups):
        return lengths / lengths.sum()
    groups = groups / groups.sum()
    size = n // len(groups)
    group_of = np.minimum(np.arange(n) // size, len(groups) - 1)  # remainder joins the last group
    members = np.bincount(group_of, minlength=len(groups))
    return groups[group_of] / members[group_of]


def segment_bounds(
    lengths: np.ndarray, t: np.ndarray, offset: np.ndarray, seq_length: int, placement: Placement
) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop) of each segment in episode steps; may extend past [0, T), which is padding (spec §3).

    "end" (denoiser, imagination contexts): stop = min(T, t + 1 + offset), start = stop - L, so padding
    only before the episode start. "free" (reward/termination model): start = t - offset, stop = start + L.
    ``offset`` is U{0..L-1}, ``t`` is U{0..T-1}.
    """
    if placement == "end":
        stop = np.minimum(lengths, t + 1 + offset)
        return stop - seq_length, stop
    if placement == "free":
        start = t - offset
        return start, start + seq_length
    raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")


@dataclass
class Batch:
    """B segments of L steps; padded positions are zeros (action 0) with ``mask_padding`` False (spec §3)."""

    obs: torch.Tensor  # (B, L, C, H, W) uint8
    act: torch.Tensor  # (B, L) int64, or (B, L, A) float32 for continuous actions
    rew: torch.Tensor  # (B, L) float32, raw
    end: torch.Tensor  # (B, L) uint8
    trunc: torch.Tensor  # (B, L) uint8
    mask_padding: torch.Tensor  # (B, L) bool, True where the step is real data
    next_obs: torch.Tensor | None  # (B, L, C, H, W) uint8 obs_{t+1} (final_obs after the last step), if asked
    episode_id: torch.Tensor  # (B,) int64: where each segment came from (debugging, tests)
    start: torch.Tensor  # (B,) int64, first step of the segment (negative: padding before the episode)
    stop: torch.Tensor  # (B,) int64, one past the last step (> T: padding after the episode)

    def to(self, device: torch.device | str) -> Batch:
        """The batch on ``device`` (to a GPU through pinned memory: ``devices.to_device``)."""
        moved = {f.name: None if (x := getattr(self, f.name)) is None else to_device(x, device) for f in fields(self)}
        return replace(self, **moved)

    def __len__(self) -> int:
        return int(self.obs.shape[0])


def gather_segments(
    episodes: Sequence[Episode],
    starts: np.ndarray,
    stops: np.ndarray,
    episode_ids: np.ndarray | None = None,
    with_next_obs: bool = False,
    with_final_obs: bool = False,
) -> Batch:
    """Copy segment k = episodes[k][starts[k]:stops[k]] into a padded batch (one slice copy per segment).

    ``with_final_obs``: a segment may end one step past the episode, at its stored final observation
    (position T, with action 0, reward 0 and no end flag, unmasked); otherwise position T is padding.
    """
    b = len(episodes)
    seg_lengths = np.asarray(stops, dtype=np.int64) - np.asarray(starts, dtype=np.int64)
    if b == 0 or len(seg_lengths) != b or (seg_lengths != seg_lengths[0]).any() or seg_lengths[0] < 1:
        raise ValueError(
            f"gather_segments needs one (start, stop) per episode, all of one length >= 1; "
            f"got {b} episodes, segment lengths {seg_lengths}"
        )
    seq_length = int(seg_lengths[0])
    first = episodes[0]
    frame_shape = first.obs.shape[1:]
    act_dtype = np.int64 if first.act.dtype.kind in "biu" else np.float32
    obs = np.zeros((b, seq_length, *frame_shape), dtype=np.uint8)
    act = np.zeros((b, seq_length, *first.act.shape[1:]), dtype=act_dtype)
    rew = np.zeros((b, seq_length), dtype=np.float32)
    end = np.zeros((b, seq_length), dtype=np.uint8)
    trunc = np.zeros((b, seq_length), dtype=np.uint8)
    mask = np.zeros((b, seq_length), dtype=bool)
    next_obs = np.zeros_like(obs) if with_next_obs else None
    for k, ep in enumerate(episodes):
        n = len(ep)
        start, stop = int(starts[k]), int(stops[k])
        lo, hi = max(start, 0), min(stop, n)
        dlo, dhi = lo - start, hi - start
        if with_final_obs and start <= n < stop:
            obs[k, n - start] = ep.final_obs
            mask[k, n - start] = True
        obs[k, dlo:dhi] = ep.obs[lo:hi]
        act[k, dlo:dhi] = ep.act[lo:hi]
        rew[k, dlo:dhi] = ep.rew[lo:hi]
        end[k, dlo:dhi] = ep.end[lo:hi]
        trunc[k, dlo:dhi] = ep.trunc[lo:hi]
        mask[k, dlo:dhi] = True
        if next_obs is not None:
            if hi < n:
                next_obs[k, dlo:dhi] = ep.obs[lo + 1 : hi + 1]
            else:  # the last transition's next observation is the stored final one (spec §3)
                next_obs[k, dlo : dhi - 1] = ep.obs[lo + 1 : n]
                next_obs[k, dhi - 1] = ep.final_obs
    ids = np.full(b, -1, dtype=np.int64) if episode_ids is None else np.asarray(episode_ids, dtype=np.int64)
    return Batch(
        obs=torch.from_numpy(obs),
        act=torch.from_numpy(act),
        rew=torch.from_numpy(rew),
        end=torch.from_numpy(end),
        trunc=torch.from_numpy(trunc),
        mask_padding=torch.from_numpy(mask),
        next_obs=None if next_obs is None else torch.from_numpy(next_obs),
        episode_id=torch.from_numpy(ids),
        start=torch.from_numpy(np.asarray(starts, dtype=np.int64).copy()),
        stop=torch.from_numpy(np.asarray(stops, dtype=np.int64).copy()),
    )


class SegmentSampler:
    """Draws batches of segments from a growing store with the spec §3 recency weighting.

    ``static=None`` means "static if the store is read-only" (a fixed dataset: length-proportional).
    """

    def __init__(
        self,
        store: EpisodeSource,
        rng: np.random.Generator,
        recency_weights: Sequence[float] = RECENCY_WEIGHTS,
        static: bool | None = None,
    ) -> None:
        self.store = store
        self.rng = rng
        self.recency_weights = tuple(recency_weights)
        self.static = bool(getattr(store, "read_only", False)) if static is None else static
        self._cached_for = -1
        self._lengths = np.zeros(0, dtype=np.int64)
        self._weights = np.zeros(0)

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(lengths, probabilities) of the store's current episodes, recomputed only when it grows."""
        n = len(self.store)
        if n != self._cached_for:
            self._lengths = np.asarray(self.store.lengths, dtype=np.int64)
            self._weights = episode_weights(self._lengths, self.recency_weights, self.static)
            self._cached_for = n
        return self._lengths, self._weights

    def sample(
        self, batch_size: int, seq_length: int, placement: Placement, next_obs: bool = False, final_obs: bool = False
    ) -> Batch:
        """A batch of ``batch_size`` segments of ``seq_length`` steps; ``next_obs`` also gathers obs_{t+1}.

        ``final_obs`` ("end" placement only) treats each episode as T + 1 frames, the last being its
        stored final observation, so a segment may end there: the denoiser then also learns the
        transition into the final frame, which spec §3's sampler never shows it.
        """
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        if batch_size < 1 or seq_length < 1:
            raise ValueError(f"batch_size and seq_length must be >= 1, got {batch_size} and {seq_length}")
        if final_obs and placement != "end":
            raise ValueError(f"final_obs segments need the 'end' placement, got {placement!r}")
        lengths, weights = self.weights()
        ids = self.rng.choice(len(weights), size=batch_size, p=weights)
        frames = lengths[ids] + int(final_obs)
        t = self.rng.integers(0, frames)
        offset = self.rng.integers(0, seq_length, size=batch_size)
        starts, stops = segment_bounds(frames, t, offset, seq_length, placement)
        episodes = [self.store.get(int(i)) for i in ids]
        return gather_segments(episodes, starts, stops, ids, with_next_obs=next_obs, with_final_obs=final_obs)


def uniform_complete_segments(
    lengths: Sequence[int] | np.ndarray, count: int, length: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``count`` (episode id, start) pairs drawn uniformly among all unpadded segments of ``length`` steps.

    For evaluation: every window lies inside one episode, so no context frame is padding.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    windows = np.maximum(lengths - length + 1, 0)
    if windows.sum() == 0:
        longest = int(lengths.max()) if len(lengths) else 0
        raise InvalidValue(
            f"no episode has {length} steps (the longest has {longest}); "
            "ask for shorter segments or collect longer episodes"
        )
    ids = rng.choice(len(lengths), size=count, p=windows / windows.sum())
    return [(int(i), int(rng.integers(0, windows[i]))) for i in ids]
