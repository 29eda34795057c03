"""`diamond import-hdf5`: the CS:GO source files into four episode stores (spec §10).

Source files here are format-true (150×280 BGR frames, 51-entry actions, the extra keys the real files
hold) but short: 12 frames each.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from diamond import cli
from diamond.data.hdf5_episodes import (
    BadSourceFile,
    csgo_test_split,
    episode_file_name,
    h5py_module,
    read_hdf5_episode,
    write_hdf5_episode,
)
from diamond.data.static_import import import_hdf5_dataset
from diamond.data.store import EpisodeStore
from diamond.fps_actions import KEYS, X_SLICE, csgo_action_space, encode
from diamond.imaging import downscale_frames
from diamond.layout import StaticDataset
from diamond.spaces import to_json

T = 12
NUMBERS = [2, 10, 9, 1, 33, 4, 100, 7]  # sorted as strings they would come out wrong
DRIVER = Path(__file__).with_name("import_kill_driver.py")


def write_source(folder: Path, number: int, t: int = T) -> tuple[np.ndarray, np.ndarray]:
    """A source file with recognisable frames and random actions; returns (frames BGR, actions)."""
    rng = np.random.default_rng(number)
    frames = rng.integers(0, 256, size=(t, 150, 280, 3), dtype=np.uint8)
    frames[:, :, :, 0] = 0  # blue off, red on: a missed BGR -> RGB flip cannot go unnoticed
    frames[:, :, :, 2] |= 1
    actions = np.stack(
        [
            encode(
                [k for k in KEYS if rng.random() < 0.3],
                float(rng.integers(-1100, 1100)),
                float(rng.integers(-250, 250)),
            )
            for _ in range(t)
        ]
    )
    path = folder / episode_file_name(number)
    write_hdf5_episode(path, frames, actions)
    with h5py_module().File(path, "a") as f:  # the keys the real files hold and the import ignores
        for i in range(t):
            f.create_dataset(f"frame_{i}_xaux", data=np.zeros(54, dtype=np.float64))
            f.create_dataset(f"frame_{i}_helperarr", data=np.array([1.0, 0.0]))
    return frames, actions


@pytest.fixture
def source(tmp_path) -> tuple[Path, dict[int, tuple[np.ndarray, np.ndarray]]]:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder, {n: write_source(folder, n) for n in NUMBERS}


def stores(out: Path) -> dict[tuple[str, str], EpisodeStore]:
    return {
        (s, r): EpisodeStore.open(out / StaticDataset.store(s, r), read_only=True, cache_in_ram=False)
        for s in StaticDataset.SPLITS
        for r in StaticDataset.RESOLUTIONS
    }


def source_names(store: EpisodeStore) -> list[str]:
    return [store.read_info(i)["source_file"] for i in range(len(store))]


def assert_each_file_once(out: Path, train: list[int], test: list[int]) -> None:
    """Every file exactly once, in the order of its number, with the same id at both resolutions."""
    opened = stores(out)
    for split, numbers in (("train", train), ("test", test)):
        expected = [episode_file_name(n) for n in sorted(numbers)]
        assert source_names(opened[split, "low_res"]) == expected
        assert source_names(opened[split, "full_res"]) == expected
    manifest = json.loads((out / StaticDataset.IMPORTED).read_text())
    assert manifest == {s: [episode_file_name(n) for n in sorted(ns)] for s, ns in (("train", train), ("test", test))}


def test_import_flips_to_rgb_downscales_and_keeps_every_action(source, tmp_path):
    folder, written = source
    out = tmp_path / "out"
    test_files = {episode_file_name(9), episode_file_name(100), "hdf5_dm_july2021_999.hdf5"}  # 999: not here
    summary = import_hdf5_dataset(folder, out, test_files, "refuse", progress=False)
    assert summary["imported"] == 8 and summary["skipped"] == [] and summary["episodes"] == {"train": 6, "test": 2}
    assert summary["frames"] == {"train": 6 * T, "test": 2 * T}
    assert_each_file_once(out, [2, 10, 1, 33, 4, 7], [9, 100])
    opened = stores(out)
    for split, res in opened:
        meta = opened[split, res].metadata
        assert meta["obs_shape"] == ([3, 30, 56] if res == "low_res" else [3, 150, 280])
        assert meta["action_space"] == to_json(csgo_action_space()) and meta["num_actions"] == 51
        assert (meta["source"], meta["resolution"]) == ("hdf5", res)
    for split in StaticDataset.SPLITS:
        low, full = opened[split, "low_res"], opened[split, "full_res"]
        for i in range(len(full)):
            ep_full, ep_low = full.get(i), low.get(i)
            number = ep_full.info["source_number"]
            frames_bgr, actions = written[number]
            rgb = frames_bgr[..., ::-1].transpose(0, 3, 1, 2)
            np.testing.assert_array_equal(ep_full.all_obs(), rgb)
            np.testing.assert_array_equal(ep_low.all_obs(), downscale_frames(rgb, (30, 56)))
            for ep in (ep_full, ep_low):
                assert len(ep) == T - 1 and ep.act.dtype == np.float32
                np.testing.assert_array_equal(ep.act, actions[:-1])
                assert not ep.rew.any() and not ep.end.any() and ep.trunc.tolist() == [0] * (T - 2) + [1]
                assert ep.info == {
                    "source_file": episode_file_name(number),
                    "source_number": number,
                    "last_action": actions[-1].tolist(),
                }


def test_read_obs_reads_exactly_what_get_returns(source, tmp_path):
    folder, _ = source
    out = tmp_path / "out"
    import_hdf5_dataset(folder, out, None, "refuse", progress=False)
    store = stores(out)["train", "full_res"]
    episode = store.get(3)
    for start, stop in [(0, T), (0, T - 1), (4, 9), (T - 1, T), (5, 5), (T, T)]:
        got = store.read_obs(3, start, stop)
        assert got.shape == (stop - start, 3, 150, 280)
        np.testing.assert_array_equal(got, episode.all_obs()[start:stop])
    with pytest.raises(IndexError, match="expected 0 <= start <= stop <= 12"):
        store.read_obs(3, 2, T + 1)
    cached = EpisodeStore.open(store.root, read_only=True)  # an episode in the RAM cache is sliced from there
    np.testing.assert_array_equal(cached.read_obs(-1, 7, T), cached.get(-1).all_obs()[7:])


def test_the_paper_split_is_packaged():
    split = csgo_test_split()
    assert len(split) == 500 and "hdf5_dm_july2021_3.hdf5" in split


def _missing_frame(f) -> str:
    del f["frame_5_x"]
    return "frame 5 is missing"


def _wrong_shape(f) -> str:
    del f["frame_3_x"]
    f.create_dataset("frame_3_x", data=np.zeros((150, 279, 3), dtype=np.uint8))
    return r"frame_3_x is uint8 of shape \(150, 279, 3\), expected uint8 of shape \(150, 280, 3\)"


def _half_key(f) -> str:
    f["frame_4_y"][0] = 0.5
    return r"action 4, entry w \(index 0\) = 0.5; multi-hot entries are 0 or 1"


def _two_bins(f) -> str:
    y = f["frame_6_y"][()]
    y[X_SLICE] = 0
    y[[X_SLICE.start, X_SLICE.start + 5]] = 1
    f["frame_6_y"][...] = y
    return r"action 6 has 2 active entries in the one-hot group mouse_x-1000..mouse_x\+1000"


def _short_actions(f) -> str:
    del f["frame_2_y"]
    f.create_dataset("frame_2_y", data=np.zeros(50))
    return r"frame_2_y is float64 of shape \(50,\), expected 51 numbers"


def _no_action(f) -> str:
    del f["frame_7_y"]
    return "frame_7_x has no frame_7_y"


BAD = {"missing frame": _missing_frame, "wrong shape": _wrong_shape, "key 0.5": _half_key, "two bins": _two_bins}
BAD.update({"short action": _short_actions, "no action": _no_action})


@pytest.fixture(params=sorted(BAD))
def bad_source(request, tmp_path) -> tuple[Path, str]:
    """Files 1, 2, 3 of which 2 is bad; returns (folder, the expected reason)."""
    folder = tmp_path / "source"
    folder.mkdir()
    for n in (1, 2, 3):
        write_source(folder, n)
    with h5py_module().File(folder / episode_file_name(2), "a") as f:
        reason = BAD[request.param](f)
    return folder, reason


def test_a_bad_file_is_refused_with_its_name_and_reason(bad_source, tmp_path):
    folder, reason = bad_source
    with pytest.raises(BadSourceFile, match=f"source file {folder / episode_file_name(2)}: {reason}"):
        read_hdf5_episode(folder / episode_file_name(2))
    out = tmp_path / "out"
    with pytest.raises(BadSourceFile, match=reason):
        import_hdf5_dataset(folder, out, None, "refuse", progress=False)
    assert_each_file_once(out, [1], [])  # what came before stays, nothing half-imported
    assert not (out / StaticDataset.SKIPPED).exists()


def test_a_truncated_file_is_a_bad_source_file(tmp_path):
    write_source(tmp_path, 5)
    path = tmp_path / episode_file_name(5)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadSourceFile, match=f"source file {path}: (not a readable HDF5 file|cannot read frame)"):
        read_hdf5_episode(path)


def test_a_bad_file_is_skipped_listed_and_retried_once_fixed(bad_source, tmp_path, capsys):
    folder, reason = bad_source
    out = tmp_path / "out"
    summary = import_hdf5_dataset(folder, out, None, "skip", progress=False)
    assert [x["file"] for x in summary["skipped"]] == [episode_file_name(2)]
    assert f"skipped {episode_file_name(2)}: source file" in capsys.readouterr().err
    (listed,) = json.loads((out / StaticDataset.SKIPPED).read_text())["skipped"]
    assert listed["file"] == episode_file_name(2) and reason.replace("\\", "") in listed["reason"]
    assert_each_file_once(out, [1, 3], [])
    write_source(folder, 2)  # fixed: the next run imports it, after the others, and forgets the skip
    assert import_hdf5_dataset(folder, out, None, "skip", progress=False)["imported"] == 1
    assert json.loads((out / StaticDataset.SKIPPED).read_text()) == {"skipped": []}
    assert source_names(stores(out)["train", "full_res"]) == [episode_file_name(n) for n in (1, 3, 2)]


def test_resume_undoes_a_half_added_episode_and_rebuilds_a_stale_manifest(source, tmp_path):
    folder, _ = source
    out = tmp_path / "out"
    import_hdf5_dataset(folder, out, None, "refuse", progress=False)
    # A crash between the two adds of the last episode, before the manifest names it.
    with EpisodeStore.open(out / StaticDataset.store("train", "full_res"), cache_in_ram=False) as full:
        full.roll_back(len(full) - 1)
    manifest = json.loads((out / StaticDataset.IMPORTED).read_text())
    manifest["train"] = manifest["train"][:-1]
    (out / StaticDataset.IMPORTED).write_text(json.dumps(manifest))
    summary = import_hdf5_dataset(folder, out, None, "refuse", progress=False)
    assert (summary["imported"], summary["already_imported"]) == (1, 7)
    assert_each_file_once(out, NUMBERS, [])
    # A crash after both adds, before the manifest: nothing to import again, the manifest is rebuilt.
    (out / StaticDataset.IMPORTED).write_text(json.dumps({"train": [], "test": []}))
    assert import_hdf5_dataset(folder, out, None, "refuse", progress=False)["imported"] == 0
    assert_each_file_once(out, NUMBERS, [])


def _indexed(out: Path) -> int:
    total = 0
    for split in StaticDataset.SPLITS:
        for res in StaticDataset.RESOLUTIONS:
            index = out / StaticDataset.store(split, res) / "index.json"
            try:
                total += len(json.loads(index.read_text())["episodes"])
            except (FileNotFoundError, ValueError):
                pass
    return total


def _run_and_kill(args: list[str], when: callable) -> None:
    """Start the slowed-down command, SIGKILL it as soon as ``when()`` holds."""
    proc = subprocess.Popen([sys.executable, str(DRIVER), "0.25", *args], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not when():
            assert proc.poll() is None, f"the import ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_then_resume_imports_every_file_exactly_once(source, tmp_path):
    folder, _ = source
    out = tmp_path / "out"
    split_file = tmp_path / "split.txt"
    split_file.write_text(f"{episode_file_name(9)}\n{episode_file_name(1)}\n")
    args = ["import-hdf5", str(folder), str(out), "--test-split", str(split_file), "--no-progress"]
    _run_and_kill(args, lambda: _indexed(out) >= 3)  # killed between the two adds of the second episode
    assert [len(s) for s in stores(out).values()] == [1, 0, 1, 1]  # train low, train full, test low, test full
    _run_and_kill(args, lambda: _indexed(out) >= 9)  # again, a few episodes further
    done = subprocess.run([sys.executable, "-m", "diamond.cli", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_each_file_once(out, [2, 10, 33, 4, 100, 7], [9, 1])


def test_cli_errors_name_the_value_and_what_was_expected(tmp_path, capsys):
    def error(*args) -> str:
        assert cli.main(["import-hdf5", *map(str, args)]) == 2
        return capsys.readouterr().err

    assert "SOURCE_DIR " + str(tmp_path / "nope") + " does not exist; expected a folder" in error(
        tmp_path / "nope", tmp_path / "out"
    )
    (tmp_path / "empty").mkdir()
    assert "holds no .hdf5 files" in error(tmp_path / "empty", tmp_path / "out")
    write_source(tmp_path / "empty", 1, t=2)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    err = error(tmp_path / "empty", tmp_path / "other")
    assert f"OUT {tmp_path / 'other'} is a non-empty folder that is not an imported dataset" in err
    assert "--test-split nope.txt: no such file" in error(
        tmp_path / "empty", tmp_path / "out", "--test-split", "nope.txt"
    )
    assert cli.main(["import-hdf5", str(tmp_path / "empty"), str(tmp_path / "out"), "--no-progress"]) == 0
    assert "imported 1 episodes (2 frames)" in capsys.readouterr().out
    err = error(tmp_path / "empty", tmp_path / "out", "--test-split", "none")
    assert "was imported with a different --test-split (500 held-out files; now no split)" in err
