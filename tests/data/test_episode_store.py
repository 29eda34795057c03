"""EpisodeStore: round trips, recovery after interrupted writes, and errors that name the file (spec §3)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from data_helpers import OBS_SHAPE, assert_episodes_equal, labelled_episode, random_episode

from diamond.data import CorruptEpisodeFile, Episode, EpisodeStore, StoreError, read_episode_file
from diamond.data.episode_file import encode_episode


def fill(store: EpisodeStore, lengths) -> list[Episode]:
    episodes = [random_episode(n, seed=i) for i, n in enumerate(lengths)]
    for i, ep in enumerate(episodes):
        assert store.add(ep) == i
    return episodes


def snapshot(root) -> dict[str, bytes]:
    """Every file's bytes, to show that an error left the directory untouched."""
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()}


# ------------------------------------------------------------------------------------------- round trip


def test_round_trip_ids_order_and_reopen(tmp_path, metadata):
    root = tmp_path / "store"
    lengths = [7, 1, 12, 3]
    with EpisodeStore.create(root, metadata) as store:
        episodes = fill(store, lengths)
        assert len(store) == 4 and store.num_steps == sum(lengths)
        np.testing.assert_array_equal(store.lengths, lengths)
        assert store.lengths.dtype == np.int64
        np.testing.assert_allclose(store.returns, [ep.rew.sum() for ep in episodes], rtol=1e-6)
        for i, ep in enumerate(episodes):
            assert_episodes_equal(store.get(i), ep)
        assert_episodes_equal(store.get(-1), episodes[-1])
        assert store.metadata == metadata

    for cache in (True, False):
        store = EpisodeStore.open(root, read_only=True, cache_in_ram=cache, expected_metadata=metadata)
        assert len(store) == 4 and store.num_steps == sum(lengths)
        for i, ep in enumerate(episodes):
            got = store.get(i)
            assert_episodes_equal(got, ep)
            assert not got.obs.flags.writeable  # shared with the cache: callers must copy
            assert got.act.dtype == np.int64 and got.rew.dtype == np.float32 and got.end.dtype == np.uint8
        store.verify()
        with pytest.raises(IndexError, match="out of range"):
            store.get(4)

    with EpisodeStore.open(root) as store:  # writable reopen continues the id sequence
        assert store.add(random_episode(2, seed=99)) == 4
    assert len(EpisodeStore.open(root, read_only=True)) == 5


def test_add_casts_to_stored_dtypes_and_does_not_alias_caller_arrays(tmp_path, metadata):
    ep = random_episode(5, seed=1)
    ep.act = ep.act.astype(np.int32)
    ep.rew = ep.rew.astype(np.float64)
    ep.end = ep.end.astype(bool)
    with EpisodeStore.create(tmp_path / "s", metadata) as store:
        store.add(ep)
        ep.obs[:] = 0  # the caller reusing its buffer must not change what was stored
        got = store.get(0)
    assert got.act.dtype == np.int64 and got.rew.dtype == np.float32 and got.end.dtype == np.uint8
    assert got.obs.any()
    assert_episodes_equal(EpisodeStore.open(tmp_path / "s", cache_in_ram=False, read_only=True).get(0), got)


def test_reader_needs_no_lock_while_a_writer_is_open(tmp_path, metadata):
    with EpisodeStore.create(tmp_path / "s", metadata) as writer:
        fill(writer, [3, 4])
        reader = EpisodeStore.open(tmp_path / "s", read_only=True)
        assert len(reader) == 2


# --------------------------------------------------------------------------------- recovery after a crash


def test_complete_but_unindexed_episode_is_verified_and_indexed(tmp_path, metadata):
    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata) as store:
        episodes = fill(store, [4, 5])
        index_before = (root / "index.json").read_bytes()
        episodes.append(random_episode(6, seed=2))
        store.add(episodes[-1])
    (root / "index.json").write_bytes(index_before)  # as if killed between the two renames

    reader = EpisodeStore.open(root, read_only=True)  # sees it, but writes nothing
    assert len(reader) == 3 and (root / "index.json").read_bytes() == index_before
    with EpisodeStore.open(root) as store:
        assert len(store) == 3 and store.num_steps == 15
        assert_episodes_equal(store.get(2), episodes[2])
    assert len(json.loads((root / "index.json").read_text())["episodes"]) == 3


def test_leftover_temporary_files_are_ignored_then_removed_by_a_writer(tmp_path, metadata):
    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata) as store:
        fill(store, [3])
    tmp = root / ".tmp-000000001.ep.12345"
    tmp.write_bytes(b"half an episode")
    (root / ".tmp-index.json.12345").write_text("{")
    assert len(EpisodeStore.open(root, read_only=True)) == 1
    assert tmp.exists()  # read-only never touches the directory
    with EpisodeStore.open(root) as store:
        assert len(store) == 1
        assert store.add(random_episode(2, seed=5)) == 1
    assert not list(root.glob(".tmp-*"))


def test_unindexed_corrupt_file_is_an_error_and_kept(tmp_path, metadata):
    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata) as store:
        fill(store, [3])
    bad = root / "000000001.ep"
    data = bytearray(b"".join(bytes(c) for c in encode_episode(random_episode(3, seed=7))))
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptEpisodeFile, match="000000001.ep"):
        EpisodeStore.open(root)
    assert bad.read_bytes() == data[: len(data) // 2]


def test_missing_or_gapped_episode_files_are_errors(tmp_path, metadata):
    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata) as store:
        fill(store, [3, 3])
    shutil.copy(root / "000000001.ep", root / "000000004.ep")
    with pytest.raises(StoreError, match="not contiguous"):
        EpisodeStore.open(root, read_only=True)
    (root / "000000004.ep").unlink()
    (root / "000000001.ep").rename(tmp_path / "moved.ep")
    with pytest.raises(StoreError, match=r"000000001\.ep is missing"):
        EpisodeStore.open(root, read_only=True)


# ------------------------------------------------------------------------------------- corruption on disk


def test_every_flipped_byte_and_every_truncation_is_detected():
    data = b"".join(bytes(c) for c in encode_episode(random_episode(2, seed=3, obs_shape=(1, 4, 4))))
    from diamond.data.episode_file import decode_episode

    for pos in range(len(data)):
        flipped = bytearray(data)
        flipped[pos] ^= 0x5A
        with pytest.raises(CorruptEpisodeFile, match="f.ep"):
            decode_episode(flipped, "f.ep")
    for size in range(len(data)):
        with pytest.raises(CorruptEpisodeFile, match="f.ep"):
            decode_episode(data[:size], "f.ep")


@pytest.mark.parametrize("cache_in_ram", [True, False])
def test_corrupted_episode_file_raises_naming_it_and_is_left_alone(tmp_path, metadata, cache_in_ram):
    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata) as store:
        fill(store, [20, 20])
    path = root / "000000001.ep"
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 3] = bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 3])
    path.write_bytes(data)
    before = snapshot(root)

    store = EpisodeStore.open(root, cache_in_ram=cache_in_ram)
    store.get(0)
    with pytest.raises(CorruptEpisodeFile, match=r"000000001\.ep.*CRC-32"):
        store.get(1)
    with pytest.raises(CorruptEpisodeFile, match=r"000000001\.ep"):
        store.verify()
    with pytest.raises(CorruptEpisodeFile, match=r"000000001\.ep"):
        read_episode_file(path)
    store.close()
    assert snapshot(root) == before


def test_truncated_episode_file_raises_naming_it_and_is_left_alone(tmp_path, metadata):
    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata) as store:
        fill(store, [20, 20])
    path = root / "000000000.ep"
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    before = snapshot(root)
    for read_only in (True, False):
        with pytest.raises(CorruptEpisodeFile, match=r"000000000\.ep.*truncated"):
            EpisodeStore.open(root, read_only=read_only)
    with pytest.raises(CorruptEpisodeFile, match=r"000000000\.ep.*truncated"):
        read_episode_file(path)
    assert snapshot(root) == before


# ------------------------------------------------------------------------------------------ clear errors


def test_wrong_shape_episode_is_refused_naming_expected_and_got(tmp_path, metadata):
    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata) as store:
        fill(store, [3])
        before = snapshot(root)
        with pytest.raises(ValueError, match=r"\(3, 16, 16\) does not match the store's obs_shape \(3, 8, 8\)"):
            store.add(random_episode(4, seed=1, obs_shape=(3, 16, 16)))
        bad_act = random_episode(4, seed=1)
        bad_act.act[2] = 7
        with pytest.raises(ValueError, match=r"action 7 at step 2 is outside 0\.\.4"):
            store.add(bad_act)
        not_json = random_episode(4, seed=1)
        not_json.info = {"rng": object()}
        with pytest.raises(ValueError, match="JSON-serialisable"):
            store.add(not_json)
        assert len(store) == 1
        assert store.add(random_episode(2, seed=2)) == 1  # the store is still usable
    assert set(snapshot(root)) - set(before) == {"000000001.ep"}


def test_expected_metadata_mismatch_lists_every_differing_key(tmp_path, metadata):
    root = tmp_path / "s"
    protocol = {"game": "breakout", "size": 10, "colours": {"ball": [1, 2, 3]}}
    EpisodeStore.create(root, {**metadata, "protocol": protocol}).close()
    EpisodeStore.open(root, expected_metadata={"obs_shape": OBS_SHAPE, "unrelated": 1}).close()  # tuple == list
    other = {"game": "asterix", "size": 10, "colours": {"ball": [1, 2, 4]}}
    with pytest.raises(ValueError) as info:
        EpisodeStore.open(
            root, expected_metadata={"obs_shape": (3, 64, 64), "num_actions": 18, "env": "test", "protocol": other}
        )
    msg = str(info.value)
    assert msg.startswith(f"episode store {root} was made with other settings than these")
    assert "obs_shape: store=[3, 8, 8], here=[3, 64, 64]" in msg and "num_actions: store=5, here=18" in msg
    # inside nested settings, only the values that differ, by their path
    assert "protocol.game: store='breakout', here='asterix'" in msg and "protocol.colours.ball: store=" in msg
    assert "env:" not in msg and "size" not in msg  # values that agree are not listed
    EpisodeStore.open(root).close()  # the failed open released the lock


def test_not_a_store_and_bad_creation_targets(tmp_path, metadata):
    with pytest.raises(StoreError, match="is not an episode store.*does not exist"):
        EpisodeStore.open(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("keep me")
    with pytest.raises(StoreError, match=r"is not an episode store.*metadata\.json"):
        EpisodeStore.open(tmp_path / "plain")
    with pytest.raises(StoreError, match="not empty"):
        EpisodeStore.create(tmp_path / "plain", metadata)
    assert (tmp_path / "plain" / "notes.txt").read_text() == "keep me"
    EpisodeStore.create(tmp_path / "s", metadata).close()
    with pytest.raises(StoreError, match="already an episode store"):
        EpisodeStore.create(tmp_path / "s", metadata)
    with pytest.raises(ValueError, match="obs_shape"):
        EpisodeStore.create(tmp_path / "t", {"env": "x"})


def test_read_only_add_and_second_writer_are_refused(tmp_path, metadata):
    root = tmp_path / "s"
    writer = EpisodeStore.create(root, metadata)
    with pytest.raises(StoreError, match="already open for writing"):
        EpisodeStore.open(root)
    reader = EpisodeStore.open(root, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        reader.add(random_episode(2, seed=0))
    writer.close()
    with pytest.raises(StoreError, match="closed"):
        writer.add(random_episode(2, seed=0))
    with EpisodeStore.open(root) as second:
        assert second.add(labelled_episode(3)) == 0


def test_second_writer_in_another_process_is_refused(tmp_path, metadata):
    import subprocess
    import sys

    root = tmp_path / "s"
    with EpisodeStore.create(root, metadata):
        code = "import sys; from diamond.data import EpisodeStore; EpisodeStore.open(sys.argv[1])"
        proc = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "already open for writing" in proc.stderr and str(root) in proc.stderr
    assert os.listdir(root)  # nothing removed


def test_roll_back_drops_later_episodes_durably(tmp_path, metadata):
    store = EpisodeStore.create(tmp_path / "s", metadata)
    fill(store, [3, 4, 5])
    assert store.roll_back(1) == 2
    assert len(store) == 1 and store.lengths.tolist() == [3]
    with pytest.raises(StoreError, match="holds 1"):
        store.roll_back(2)
    assert store.add(random_episode(6, seed=9)) == 1  # ids continue from the rolled-back count
    store.close()
    reopened = EpisodeStore.open(tmp_path / "s", read_only=True)
    assert reopened.lengths.tolist() == [3, 6]
    assert len(list((tmp_path / "s").glob("*.ep"))) == 2


def test_a_file_where_the_store_would_go_is_named(tmp_path, metadata):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    for root in (blocker, blocker / "store"):
        with pytest.raises(StoreError, match=rf"^cannot create an episode store in {root}: {blocker} is a file, not"):
            EpisodeStore.create(root, metadata)
    assert blocker.read_text() == "mine"
