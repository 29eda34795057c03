"""`diamond record-vizdoom`: CS:GO-format files, resumed numbering, the report and the contact sheet."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("vizdoom", reason="ViZDoom is not installed (pip install 'diamond-wm[vizdoom]')")
h5py = pytest.importorskip("h5py", reason="h5py is not installed (pip install 'diamond-wm[vizdoom]')")

from diamond import fps_actions  # noqa: E402
from diamond.recording import CONTACT_SHEET, REPORT, file_seed, record_vizdoom  # noqa: E402


def read(path):
    with h5py.File(path, "r") as f:
        keys = set(f.keys())
        n = len(keys) // 2
        assert keys == {f"frame_{i}_{s}" for i in range(n) for s in "xy"}
        return np.stack([f[f"frame_{i}_x"][()] for i in range(n)]), np.stack([f[f"frame_{i}_y"][()] for i in range(n)])


def test_the_recorder_writes_format_true_files_and_resumes_after_the_highest_number(tmp_path, capsys):
    out = tmp_path / "rec"
    report = record_vizdoom(out, frames=50, episode_frames=25, seed=1, progress=False)
    assert sorted(p.name for p in out.glob("*.hdf5")) == ["hdf5_dm_july2021_0.hdf5", "hdf5_dm_july2021_1.hdf5"]
    frames, actions = read(out / "hdf5_dm_july2021_0.hdf5")
    assert frames.shape == (25, 150, 280, 3) and frames.dtype == np.uint8 and actions.shape == (25, 51)
    fps_actions.csgo_action_space().check(actions, "file 0")
    assert len({a.tobytes() for a in actions}) > 5  # the player varies its actions

    # BGR on disk: the first frame is the env's first RGB observation with its channels reversed
    from diamond.envs.vizdoom_fps import VizdoomConfig, VizdoomFPSEnv

    env = VizdoomFPSEnv(VizdoomConfig("deathmatch"))
    try:
        rgb, _ = env.reset(seed=file_seed(1, 0))
    finally:
        env.close()
    assert np.array_equal(frames[0], rgb.transpose(1, 2, 0)[..., ::-1]) and not np.array_equal(
        frames[0], frames[0, ..., ::-1]
    )

    on_disk = json.loads((out / REPORT).read_text())
    assert on_disk["files"] == 2 and on_disk["frames_in_folder"] == 50 and on_disk["this_run"]["frames_recorded"] == 50
    assert on_disk["actions"]["frames"] == 50 and sum(on_disk["actions"]["mouse_x_histogram"].values()) == 50
    assert report["this_run"]["frames_per_s"] > 0 and (out / CONTACT_SHEET).stat().st_size > 1000

    (out / "hdf5_dm_july2021_1.hdf5").rename(out / "hdf5_dm_july2021_4.hdf5")  # a gap: numbering goes on after 4
    report = record_vizdoom(out, frames=75, episode_frames=25, seed=1, progress=False)
    assert report["files"] == 3 and report["this_run"]["frames_recorded"] == 25
    resumed = read(out / "hdf5_dm_july2021_5.hdf5")

    # a file depends only on (seed, number): the resumed file equals the one a run from scratch writes
    fresh = tmp_path / "fresh"
    record_vizdoom(fresh, frames=150, episode_frames=25, seed=1, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(resumed, read(fresh / "hdf5_dm_july2021_5.hdf5")))
    assert "enemy in sight" in capsys.readouterr().out
    again = record_vizdoom(fresh, frames=150, episode_frames=25, seed=1, progress=False)  # nothing left to do
    assert again["this_run"]["frames_recorded"] == 150  # the report of the run that recorded the files stays


def test_the_cli_records_and_refuses_bad_flags(tmp_path, capsys):
    from diamond import cli

    assert cli.main(["record-vizdoom", str(tmp_path), "--frames", "10", "--episode-frames", "10", "--no-progress"]) == 0
    assert (tmp_path / "hdf5_dm_july2021_0.hdf5").is_file() and (tmp_path / REPORT).is_file()
    assert cli.main(["record-vizdoom", str(tmp_path), "--frames", "10", "--scenario", "e1m1"]) == 2
    assert "unknown ViZDoom scenario 'e1m1'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # refused by the parser, with the flag's name
        cli.main(["record-vizdoom", str(tmp_path), "--frames", "0"])
    assert exited.value.code == 2 and "argument --frames: 0 is invalid" in capsys.readouterr().err
    capsys.readouterr()
    # more files with other settings would mix two recordings in one folder: refused, nothing written
    before = sorted(p.name for p in tmp_path.iterdir())
    other = ["record-vizdoom", str(tmp_path), "--frames", "30", "--episode-frames", "15", "--seed", "2"]
    assert cli.main(other) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} holds a recording made with other settings" in err
    assert "--seed 2 (the folder's: 0), --episode-frames 15 (the folder's: 10)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
