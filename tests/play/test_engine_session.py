"""The engine players' game loop: spawn points made from a dataset's held-out episodes, play with keys and
mouse, settings and denoising steps, the horizon, and recording into a dataset that training reads."""

import json

import numpy as np
import pytest
import torch

from diamond.data.engine_data import EngineSplit
from diamond.data.spawn import load_spawn_point, make_spawn_points, save_spawn_point
from diamond.errors import InvalidValue
from diamond.fps_actions import decode
from diamond.layout import StaticDataset
from diamond.play.engine_session import EngineSession
from diamond.play.fps_controls import fps_action


def test_spawn_points_are_held_out_windows_in_the_authors_layout(engine_dataset, spawns, tmp_path):
    assert [p.name for p in spawns] == ["0", "1", "2"]
    test = EngineSplit(engine_dataset, "test")
    for folder in spawns:
        arrays = {n: np.load(folder / f"{n}.npy") for n in ("low_res", "full_res", "act", "next_act")}
        assert arrays["low_res"].shape == (4, 3, 30, 56) and arrays["low_res"].dtype == np.uint8
        assert arrays["full_res"].shape == (4, 3, 150, 280) and arrays["act"].shape == (4, 51)
        assert arrays["next_act"].shape == (5, 51)
        # the frames and actions are a window of a held-out episode, the next actions follow it
        found = [
            (e, s)
            for e in range(len(test))
            for s in range(int(test.lengths[e]) - 8)
            if np.array_equal(test.full_res(e, s, s + 4), arrays["full_res"])
        ]
        assert found, f"{folder} is no window of the held-out episodes"
        e, s = found[0]
        np.testing.assert_array_equal(arrays["low_res"], test.low_res(e, s, s + 4))
        np.testing.assert_array_equal(arrays["act"], test.actions(e, s, s + 4))
        np.testing.assert_array_equal(arrays["next_act"], test.actions(e, s + 4, s + 9))
    again = make_spawn_points(engine_dataset, tmp_path / "again", count=3, num_next=5)
    assert all(np.array_equal(np.load(a / "full_res.npy"), np.load(b / "full_res.npy")) for a, b in zip(spawns, again))
    with pytest.raises(InvalidValue, match="is not empty"):
        make_spawn_points(engine_dataset, tmp_path / "again", count=1)


def test_play_follows_the_controls_and_the_settings(engine, spawns):
    session = EngineSession(engine, spawns, setting="fast", horizon=100, seed=0)
    first = session.frame
    np.testing.assert_array_equal(first.full, np.load(spawns[0] / "full_res.npy")[-1])
    frame = session.step(["w", "s", "lmb", "left"], dx=500.0)
    assert frame.held == ("w", "lmb") and frame.mouse == (-60, 0)  # s forbidden after w; the arrow wins
    np.testing.assert_array_equal(session.state.act[0, -2].numpy(), fps_action(["w", "lmb", "left"]))
    assert frame.full.shape == (3, 150, 280) and frame.low.shape == (3, 30, 56)
    assert not np.array_equal(frame.full, first.full)
    frame = session.step(["d"], dx=7.0, dy=-120.0)
    assert decode(session.state.act[0, -2].numpy()) == (("d",), 4, -100)
    assert session.change_sensitivity(+1) == "mouse sensitivity: ×1.5"
    session.step([], dx=40.0)
    assert decode(session.state.act[0, -2].numpy())[1] == 60  # 40 × 1.5 = 60

    assert frame.setting == "fast" and frame.denoising_steps == (1, 1)
    assert session.toggle_setting() == "setting: higher_quality (3 + 10 denoising steps)"
    session.change_denoising_steps("upsampler", -1)
    session.change_denoising_steps("dynamics", +1)
    assert session.step().denoising_steps == (4, 9)
    session.toggle_setting()
    assert session.step().denoising_steps == (1, 1)  # each setting keeps its own steps
    with pytest.raises(ValueError, match="model 'policy' is unknown"):
        session.change_denoising_steps("policy", 1)

    frame = session.next_spawn()
    assert frame.spawn == 1 and frame.timestep == 0
    np.testing.assert_array_equal(frame.full, np.load(spawns[1] / "full_res.npy")[-1])
    assert session.next_spawn(-2).spawn == 2  # cycles


def test_the_same_seed_and_controls_play_the_same_frames(engine, spawns):
    runs = []
    for _ in range(2):
        session = EngineSession(engine, spawns, seed=3)
        runs.append([session.step(["w"], dx=dx).full for dx in (0, 100, -30)])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_the_horizon_restarts_and_recording_writes_a_dataset_that_training_reads(engine, spawns, tmp_path):
    rec = tmp_path / "rec"
    session = EngineSession(engine, spawns, horizon=3, record=rec)
    played = []
    for k, dx in enumerate((100, -60, 0)):
        played.append(session.state.low_res[0, -1].clone())
        frame = session.step(["w", "lmb"] if k == 1 else ["a"], dx=dx)
    assert frame.timestep == 0 and "reached the horizon (3 frames)" in frame.message
    np.testing.assert_array_equal(frame.full, np.load(spawns[0] / "full_res.npy")[-1])
    session.step(["d"])
    session.close()  # the episode in progress (1 step) is stored too

    description = json.loads((rec / StaticDataset.DESCRIPTION).read_text())
    assert description["source"] == "play" and description["test_split"] is None
    train = EngineSplit(rec, "train")
    assert len(train) == 2 and train.lengths.tolist() == [4, 2]
    acts = train.actions(0, 0, 3)
    assert [decode(a) for a in acts] == [(("a",), 100, 0), (("w", "lmb"), -60, 0), (("a",), 0, 0)]
    np.testing.assert_array_equal(train.low_res(0, 0, 1)[0], np.load(spawns[0] / "low_res.npy")[-1])
    manifest = json.loads((rec / StaticDataset.IMPORTED).read_text())
    assert len(manifest["train"]) == 2 and manifest["train"][0].startswith("played_")
    train.close()

    again = EngineSession(engine, spawns, horizon=3, record=rec)  # appends, keeps what is there
    again.step(["w"])
    again.close()
    assert len(EngineSplit(rec, "train")) == 3


def test_bad_spawn_points_are_named(engine, spawns, tmp_path):
    missing = tmp_path / "missing"
    missing.mkdir()
    (missing / "0").mkdir()
    for name in ("low_res", "full_res", "next_act"):
        np.save(missing / "0" / f"{name}.npy", np.load(spawns[0] / f"{name}.npy"))
    with pytest.raises(InvalidValue, match=r"has no act.npy"):
        EngineSession(engine, [missing / "0"])
    arrays = [np.load(spawns[0] / f"{n}.npy") for n in ("low_res", "full_res", "act", "next_act")]
    save_spawn_point(tmp_path / "small", arrays[0][:, :, :20], *arrays[1:])
    with pytest.raises(InvalidValue, match=r"low_res.npy has shape \(4, 3, 20, 56\); expected \(T, 3, 30, 56\)"):
        EngineSession(engine, [tmp_path / "small"])
    save_spawn_point(tmp_path / "atari", arrays[0], arrays[1], arrays[2][:, :18], arrays[3][:, :18])
    with pytest.raises(InvalidValue, match=r"act.npy has shape \(4, 18\); expected \(4, 51\)"):
        load_spawn_point(tmp_path / "atari")
    with pytest.raises(InvalidValue, match="exists already"):
        save_spawn_point(tmp_path / "atari", *arrays)


def test_the_channels_last_layout_plays_the_same_frames(engine, spawns):
    import copy

    from diamond.devices import set_layout

    fast = set_layout(copy.deepcopy(engine), "channels_last")
    assert any(p.dim() == 4 and not p.is_contiguous() for p in fast.parameters())  # converted...
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in fast.parameters() if p.dim() == 4)
    plain, last = EngineSession(engine, spawns, seed=5), EngineSession(fast, spawns, seed=5)
    for held, dx in ((["w"], 0.0), (["a", "lmb"], 300.0), ([], -60.0)):
        a, b = plain.step(held, dx=dx), last.step(held, dx=dx)
        differ = np.abs(a.full.astype(int) - b.full.astype(int))
        assert differ.max() <= 1 and (differ > 0).mean() < 1e-3  # float rounding at most, never another frame
    with pytest.raises(InvalidValue, match="--layout 'nhwc' is unknown; expected one of channels_last, contiguous"):
        set_layout(engine, "nhwc")


def test_bfloat16_steps_compute_in_bfloat16_and_play_nearly_the_same_frames(engine, engine_checkpoint, spawns):
    import copy

    from diamond.benchmark.speed import wake_zero_layers
    from diamond.play.engine_launch import open_engine

    plain = wake_zero_layers(copy.deepcopy(engine))  # else both precisions return the same frames
    half = copy.deepcopy(plain)
    half.precision = "bfloat16"
    dtypes = []
    convs = [m for m in half.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks = [c.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype)) for c in convs]
    a_session, b_session = EngineSession(plain, spawns, seed=5), EngineSession(half, spawns, seed=5)
    changed = []
    for held, dx in ((["w"], 0.0), (["a", "lmb"], 300.0)):
        a, b = a_session.step(held, dx=dx), b_session.step(held, dx=dx)
        assert b.full.dtype == np.uint8 and b_session.state.full_res.dtype == torch.float32
        differ = np.abs(a.full.astype(int) - b.full.astype(int))
        changed.append((differ > 0).mean())
        assert differ.max() <= 16, differ.max()  # rounding of 8 mantissa bits, never another frame
    assert 0 < max(changed) < 0.5
    for h in hooks:
        h.remove()
    assert dtypes and set(dtypes) == {torch.bfloat16}  # every convolution of both models
    loaded, _ = open_engine(str(engine_checkpoint), None, str(spawns[0].parent), "cpu", precision="bfloat16")
    assert loaded.precision == "bfloat16"
    with pytest.raises(InvalidValue, match="--precision 'float16' is for CUDA devices; on cpu use 'bfloat16'"):
        open_engine(str(engine_checkpoint), None, str(spawns[0].parent), "cpu", precision="float16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_the_engine_player_steps_on_cuda(engine, spawns):
    import copy

    session = EngineSession(copy.deepcopy(engine).cuda(), spawns, seed=0)
    frame = session.step(["w"], dx=100.0)
    assert frame.full.shape == (3, 150, 280) and session.state.full_res.device.type == "cuda"
