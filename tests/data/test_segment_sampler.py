"""Segment sampling: recency-weighted episode choice, segment placement, padding and next_obs (spec §3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_helpers import labelled_episode

from diamond.data import Batch, EpisodeStore, SegmentSampler, episode_weights, segment_bounds


@pytest.fixture
def store(tmp_path, metadata):
    lengths = [5, 1, 9, 3, 12, 2, 7, 4, 6, 10]
    with EpisodeStore.create(tmp_path / "s", metadata) as s:
        for i, n in enumerate(lengths):
            s.add(labelled_episode(n, seed=i))
        yield s


# ---------------------------------------------------------------------------------------- episode choice


def test_weights_ten_episodes_groups_of_2_2_2_4():
    w = episode_weights(np.full(10, 50))
    np.testing.assert_allclose(w, [0.05] * 6 + [0.7 / 4] * 4, rtol=1e-12)


def test_weights_remainder_joins_last_group_and_lengths_do_not_matter():
    w = episode_weights([1, 100, 3, 4, 5, 6, 7, 8, 900])  # 9 episodes: groups 2, 2, 2, 3
    np.testing.assert_allclose(w, [0.05] * 6 + [0.7 / 3] * 3, rtol=1e-12)
    np.testing.assert_allclose(episode_weights([3, 1, 8, 2]), [0.1, 0.1, 0.1, 0.7], rtol=1e-12)
    w = episode_weights(np.ones(7))  # groups 1, 1, 1, 4
    np.testing.assert_allclose(w, [0.1, 0.1, 0.1] + [0.7 / 4] * 4, rtol=1e-12)


def test_weights_fewer_than_four_episodes_or_static_are_length_proportional():
    np.testing.assert_allclose(episode_weights([1, 2, 3]), [1 / 6, 2 / 6, 3 / 6], rtol=1e-12)
    np.testing.assert_allclose(episode_weights([4]), [1.0])
    lengths = np.array([5, 1, 9, 3, 12, 2, 7, 4, 6, 10])
    np.testing.assert_allclose(episode_weights(lengths, static=True), lengths / 59, rtol=1e-12)


def test_weights_errors():
    with pytest.raises(ValueError, match="no episodes"):
        episode_weights([])
    with pytest.raises(ValueError, match="recency_weights"):
        episode_weights([1, 2, 3, 4], recency_weights=(-1, 1))


def test_empirical_episode_and_timestep_frequencies_match(store):
    sampler = SegmentSampler(store, np.random.default_rng(0))
    batch = sampler.sample(20_000, 1, "end")
    ids = batch.episode_id.numpy()
    freq = np.bincount(ids, minlength=10) / len(ids)
    np.testing.assert_allclose(freq, episode_weights(store.lengths), atol=0.01)
    starts = batch.start.numpy()[ids == 9]  # L = 1, "end": the segment is exactly step t, uniform in 0..T-1
    counts = np.bincount(starts, minlength=10)
    assert len(counts) == 10 and counts.min() > 0.7 * counts.mean()

    static = SegmentSampler(store, np.random.default_rng(0), static=True)
    freq = np.bincount(static.sample(20_000, 1, "free").episode_id.numpy(), minlength=10) / 20_000
    np.testing.assert_allclose(freq, store.lengths / store.num_steps, atol=0.01)


def test_read_only_store_is_static_by_default(store):
    reader = EpisodeStore.open(store.root, read_only=True)
    assert SegmentSampler(reader, np.random.default_rng(0)).static
    assert not SegmentSampler(store, np.random.default_rng(0)).static


def test_weights_follow_a_growing_store(store):
    sampler = SegmentSampler(store, np.random.default_rng(0))
    assert len(sampler.weights()[1]) == 10
    store.add(labelled_episode(3))
    assert len(sampler.weights()[1]) == 11
    assert (sampler.sample(200, 2, "end").episode_id == 10).any()


# -------------------------------------------------------------------------------------- placement, padding


def check_segment_contents(batch: Batch, store: EpisodeStore) -> None:
    """Real positions hold the episode's steps; padded ones hold zeros and action 0."""
    for k in range(len(batch)):
        ep = store.get(int(batch.episode_id[k]))
        start = int(batch.start[k])
        for j in range(batch.obs.shape[1]):
            s = start + j
            real = 0 <= s < len(ep)
            assert bool(batch.mask_padding[k, j]) == real
            if real:
                np.testing.assert_array_equal(batch.obs[k, j].numpy(), ep.obs[s])
                assert int(batch.act[k, j]) == ep.act[s] and float(batch.rew[k, j]) == ep.rew[s]
                assert int(batch.end[k, j]) == ep.end[s] and int(batch.trunc[k, j]) == ep.trunc[s]
                expected_next = ep.obs[s + 1] if s + 1 < len(ep) else ep.final_obs
                np.testing.assert_array_equal(batch.next_obs[k, j].numpy(), expected_next)
            else:
                assert not batch.obs[k, j].any() and not batch.next_obs[k, j].any()
                assert int(batch.act[k, j]) == 0 and float(batch.rew[k, j]) == 0.0
                assert int(batch.end[k, j]) == 0 and int(batch.trunc[k, j]) == 0


def test_end_placement_pads_only_before_the_start(store):
    batch = SegmentSampler(store, np.random.default_rng(1)).sample(500, 6, "end", next_obs=True)
    lengths = store.lengths[batch.episode_id.numpy()]
    assert (batch.stop.numpy() <= lengths).all() and (batch.stop - batch.start == 6).all()
    mask = batch.mask_padding.numpy()
    assert mask[:, -1].all()  # the last position is always real
    assert (np.diff(mask.astype(int), axis=1) >= 0).all()  # False...False True...True
    assert (~mask).any()  # short episodes do produce padding before the start
    check_segment_contents(batch, store)
    assert batch.obs.dtype == torch.uint8 and batch.act.dtype == torch.int64 and batch.rew.dtype == torch.float32
    assert batch.obs.shape == (500, 6, 3, 8, 8) and batch.mask_padding.dtype == torch.bool


def test_free_placement_pads_on_both_sides(store):
    batch = SegmentSampler(store, np.random.default_rng(2)).sample(500, 8, "free", next_obs=True)
    mask = batch.mask_padding.numpy()
    lengths = store.lengths[batch.episode_id.numpy()]
    before = batch.start.numpy() < 0
    after = batch.stop.numpy() > lengths
    assert before.any() and after.any() and (before & after).any()
    assert (mask.sum(1) >= 1).all()  # the chosen timestep is always inside
    check_segment_contents(batch, store)


def test_final_obs_segments_may_end_at_the_final_frame(store):
    """With final_obs, an "end" segment may stop one step past the episode, at its stored final frame."""
    batch = SegmentSampler(store, np.random.default_rng(3)).sample(2000, 3, "end", final_obs=True)
    lengths = store.lengths[batch.episode_id.numpy()]
    stops = batch.stop.numpy()
    assert (stops <= lengths + 1).all() and (batch.stop - batch.start == 3).all()
    at_final = stops == lengths + 1
    # t ~ U{0..T} over the T + 1 frames and offset ~ U{0..L-1}: the segment ends at the final frame when
    # t + offset >= T; its exact probability per sampled episode, summed, against the observed count
    p = np.array([np.mean([[t + o >= n for o in range(3)] for t in range(n + 1)]) for n in lengths])
    assert abs(at_final.sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    for k in range(len(batch)):
        ep = store.get(int(batch.episode_id[k]))
        for j in range(3):
            s = int(batch.start[k]) + j
            assert bool(batch.mask_padding[k, j]) == (0 <= s <= len(ep))
            if s == len(ep):  # the final frame: stored final_obs, action 0, reward 0, not an end
                assert j == 2
                np.testing.assert_array_equal(batch.obs[k, j].numpy(), ep.final_obs)
                assert int(batch.act[k, j]) == 0 and float(batch.rew[k, j]) == 0.0 and int(batch.end[k, j]) == 0
            elif 0 <= s < len(ep):
                np.testing.assert_array_equal(batch.obs[k, j].numpy(), ep.obs[s])
                assert int(batch.act[k, j]) == ep.act[s]
    without = SegmentSampler(store, np.random.default_rng(3)).sample(2000, 3, "end")
    assert (without.stop.numpy() <= store.lengths[without.episode_id.numpy()]).all()
    assert not (without.obs == 255).any()  # labelled episodes never show their final frame (255) otherwise
    with pytest.raises(ValueError, match="'end' placement"):
        SegmentSampler(store, np.random.default_rng(3)).sample(4, 3, "free", final_obs=True)


def test_segment_bounds_formulas():
    lengths = np.array([10, 10, 3])
    t = np.array([9, 2, 0])
    offset = np.array([3, 1, 0])
    start, stop = segment_bounds(lengths, t, offset, 4, "end")  # stop = min(T, t + 1 + offset)
    np.testing.assert_array_equal(stop, [10, 4, 1])
    np.testing.assert_array_equal(start, [6, 0, -3])
    start, stop = segment_bounds(lengths, t, offset, 4, "free")  # start = t - offset
    np.testing.assert_array_equal(start, [6, 1, 0])
    np.testing.assert_array_equal(stop, [10, 5, 4])
    with pytest.raises(ValueError, match="placement"):
        segment_bounds(lengths, t, offset, 4, "middle")


def test_next_obs_of_the_last_transition_is_final_obs(store):
    sampler = SegmentSampler(store, np.random.default_rng(3))
    batch = sampler.sample(300, 4, "end", next_obs=True)
    last = batch.stop.numpy() == store.lengths[batch.episode_id.numpy()]
    assert last.any()
    for k in np.flatnonzero(last):
        np.testing.assert_array_equal(batch.next_obs[k, -1].numpy(), store.get(int(batch.episode_id[k])).final_obs)
    assert sampler.sample(4, 4, "end").next_obs is None  # only on request


def test_same_seed_same_batch_and_to_device(store):
    a = SegmentSampler(store, np.random.default_rng(7)).sample(64, 5, "free", next_obs=True)
    b = SegmentSampler(store, np.random.default_rng(7)).sample(64, 5, "free", next_obs=True)
    c = SegmentSampler(store, np.random.default_rng(8)).sample(64, 5, "free", next_obs=True)
    for name in ("obs", "act", "rew", "end", "trunc", "mask_padding", "next_obs", "episode_id", "start", "stop"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.start, c.start)
    moved = a.to("cpu")
    assert torch.equal(moved.obs, a.obs) and moved.next_obs is not None
    assert SegmentSampler(store, np.random.default_rng(7)).sample(2, 2, "end").to("cpu").next_obs is None


def test_sampler_errors(tmp_path, metadata, store):
    empty = EpisodeStore.create(tmp_path / "empty", metadata)
    with pytest.raises(ValueError, match="no episodes"):
        SegmentSampler(empty, np.random.default_rng(0)).sample(2, 2, "end")
    with pytest.raises(ValueError, match="placement must be one of"):
        SegmentSampler(store, np.random.default_rng(0)).sample(2, 2, "start")


def test_uniform_complete_segments_never_pad_and_cover_every_window():
    from diamond.data.sampler import uniform_complete_segments

    lengths = np.array([3, 10, 5, 1])
    segs = uniform_complete_segments(lengths, 20_000, 5, np.random.default_rng(0))
    assert all(0 <= s and s + 5 <= lengths[e] for e, s in segs)
    # Windows of length 5: episode 1 has 6, episode 2 has 1, the others none; each window equally likely.
    counts = {}
    for seg in segs:
        counts[seg] = counts.get(seg, 0) + 1
    assert set(counts) == {(1, s) for s in range(6)} | {(2, 0)}
    assert max(counts.values()) / min(counts.values()) < 1.2
    with pytest.raises(ValueError, match="no episode has 11 steps"):
        uniform_complete_segments(lengths, 1, 11, np.random.default_rng(0))
