"""The `diamond` command as a user runs it: real subprocesses, real files, exit codes and messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


def diamond(*args, check_ok=True):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "diamond.cli", *map(str, args)], capture_output=True, text=True, env=env
    )
    if check_ok and proc.returncode != 0:
        raise AssertionError(f"diamond {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def error_of(*args) -> str:
    proc = diamond(*args, check_ok=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc.stderr


@pytest.fixture(scope="module")
def trained(breakout_stores, tmp_path_factory):
    train, test = breakout_stores
    run = tmp_path_factory.mktemp("run") / "wm"
    diamond(
        "train-world-model", "--data", train, "--test-data", test, "--out", run, "--preset", "tiny", "--no-progress"
    )
    return run / "checkpoints" / "world_model.pt"


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    diamond(
        "world-model-demo",
        "--out",
        out,
        "--train-steps",
        300,
        "--test-steps",
        200,
        "--preset",
        "tiny",
        "--minutes",
        1,
        "--horizon",
        5,
        "--rollouts",
        2,
        "--no-progress",
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_steps_stored"] >= 300 and summary["denoiser_updates"] == 6
    assert Path(summary["imagination"]["video"]).stat().st_size > 0
    assert (out / "imagination" / "imagination_psnr.png").stat().st_size > 0
    # Re-running continues from what is there: no new collection, no retraining from scratch.
    again = diamond(
        "world-model-demo",
        "--out",
        out,
        "--train-steps",
        300,
        "--test-steps",
        200,
        "--preset",
        "tiny",
        "--minutes",
        1,
        "--horizon",
        5,
        "--rollouts",
        2,
        "--no-progress",
    )
    assert "skipping collection" in again.stdout
    # Another game or seed would silently reuse this data and model: refused, nothing changed.
    before = (out / "summary.json").read_bytes()
    err = error_of("world-model-demo", "--out", out, "--env", "minatar", "--game", "asterix", "--seed", 3)
    assert f"--out {out} holds a demo of other data: --env minatar (the folder's: atari)" in err
    assert "--game asterix (the folder's: Breakout), --seed 3 (the folder's: 0)" in err
    assert (out / "summary.json").read_bytes() == before and not (out / "data" / "train" / "asterix").exists()
    err = error_of("world-model-demo", "--out", tmp_path / "new", "--env", "minatar", "--game", "pong")
    assert "--game: unknown MinAtar game 'pong'" in err and not (tmp_path / "new").exists()


def test_imagine_writes_video_plot_and_json(trained, breakout_stores, tmp_path):
    diamond(
        "imagine",
        "--checkpoint",
        trained,
        "--data",
        breakout_stores[1],
        "--out",
        tmp_path,
        "--horizon",
        4,
        "--rollouts",
        2,
        "--denoising-steps",
        1,
    )
    result = json.loads((tmp_path / "imagination.json").read_text())
    assert len(result["psnr_per_step"]) == 4 and result["denoising_steps"] == 1
    assert (tmp_path / "imagination.mp4").stat().st_size > 1000
    import imageio.v2 as imageio

    frames = imageio.mimread(tmp_path / "imagination.mp4")
    assert len(frames) == 4 and frames[0].shape[1] > 2 * 64 * 4  # real | imagined, scaled ×4


def test_unknown_game(tmp_path):
    err = error_of("collect", "--game", "Breakfast", "--steps", 10, "--out", tmp_path / "s")
    assert "Breakfast" in err and "Breakout" in err
    assert not (tmp_path / "s").exists()


def test_config_value_out_of_range(breakout_stores, tmp_path):
    train, test = breakout_stores
    err = error_of(
        "train-world-model",
        "--data",
        train,
        "--test-data",
        test,
        "--out",
        tmp_path / "r",
        "--preset",
        "tiny",
        "--set",
        "sampler.order=3",
    )
    assert "--set sampler.order=3: sampler: order=3 is invalid; expected 1 (Euler) or 2 (Heun)" in err
    err = error_of(
        "train-world-model",
        "--data",
        train,
        "--test-data",
        test,
        "--out",
        tmp_path / "r",
        "--preset",
        "tiny",
        "--set",
        "denoiser.net.chanels=[8,8]",
    )
    assert "chanels" in err and "channels" in err
    err = error_of(
        "train-world-model", "--data", train, "--test-data", test, "--out", tmp_path / "r", "--preset", "huge"
    )
    assert "huge" in err and "cpu" in err
    assert not (tmp_path / "r").exists()


def test_corrupted_and_truncated_episode_files(breakout_stores, tmp_path):
    import shutil

    train = tmp_path / "train"
    shutil.copytree(breakout_stores[0], train)
    victim = sorted(train.glob("*.ep"))[1]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    err = error_of(
        "train-world-model",
        "--data",
        train,
        "--test-data",
        breakout_stores[1],
        "--out",
        tmp_path / "r",
        "--preset",
        "tiny",
        "--set",
        "num_updates=50",
    )
    assert victim.name in err
    assert victim.read_bytes() == bytes(data)  # reported, not repaired or deleted
    victim.write_bytes(bytes(data[: len(data) // 3]))
    err = error_of(
        "train-world-model",
        "--data",
        train,
        "--test-data",
        breakout_stores[1],
        "--out",
        tmp_path / "r2",
        "--preset",
        "tiny",
    )
    assert victim.name in err


def test_dataset_of_the_wrong_shape(breakout_stores, trained, tmp_path):
    pong = tmp_path / "pong"
    diamond("collect", "--game", "Pong", "--kind", "test", "--steps", 50, "--out", pong)
    err = error_of(
        "train-world-model",
        "--data",
        breakout_stores[0],
        "--test-data",
        pong,
        "--out",
        tmp_path / "r",
        "--preset",
        "tiny",
    )
    assert "discrete space of 6 actions" in err and "discrete space of 4 actions" in err
    err = error_of("imagine", "--checkpoint", trained, "--data", pong, "--out", tmp_path / "im", "--horizon", 2)
    assert "6 actions" in err and "4 actions" in err
    # Appending to a store with data from another protocol is refused too.
    err = error_of("collect", "--game", "Breakout", "--kind", "test", "--steps", 10, "--out", pong)
    assert "Pong" in err or "metadata" in err


def test_truncated_and_foreign_checkpoints(trained, breakout_stores, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(trained.read_bytes()[:1000])
    err = error_of("imagine", "--checkpoint", bad, "--data", breakout_stores[1], "--out", tmp_path / "im")
    assert "bad.pt" in err and "truncated or corrupt" in err
    err = error_of("imagine", "--checkpoint", tmp_path / "missing.pt", "--data", breakout_stores[1], "--out", tmp_path)
    assert "missing.pt" in err and "does not exist" in err


def test_convert_both_ways(conformance_dir, tmp_path):
    ref = conformance_dir / "small_agent_reference_format.pt"
    diamond("convert", "--from-reference", ref, tmp_path / "project.pt")
    diamond("convert", "--to-reference", tmp_path / "project.pt", tmp_path / "back.pt")
    original = torch.load(ref, weights_only=True)
    back = torch.load(tmp_path / "back.pt", weights_only=True)
    expected = {k: v for k, v in original.items() if k.startswith("denoiser.")}
    assert back.keys() == expected.keys() and all(torch.equal(back[k], expected[k]) for k in expected)
    err = error_of("convert", "--to-reference", tmp_path / "project.pt", tmp_path / "back.pt")
    assert "already exists" in err and "--force" in err


def test_games_lists_the_26():
    out = diamond("games").stdout
    assert "Breakout" in out and "UpNDown" in out and out.split("\n")[0].count(",") == 25


def test_imagine_from_a_checkpoint_in_the_reference_layout(conformance_dir, breakout_stores, tmp_path):
    # An authors'-layout checkpoint plays as is: its configuration is inferred from the tensor shapes.
    diamond(
        "imagine",
        "--checkpoint",
        conformance_dir / "small_agent_reference_format.pt",
        "--data",
        breakout_stores[1],
        "--out",
        tmp_path,
        "--horizon",
        2,
        "--rollouts",
        1,
    )
    assert json.loads((tmp_path / "imagination.json").read_text())["horizon"] == 2
    only_rew = {
        k: v
        for k, v in torch.load(conformance_dir / "small_agent_reference_format.pt", weights_only=True).items()
        if k.startswith("rew_end_model.")
    }
    torch.save(only_rew, tmp_path / "rew_only.pt")
    err = error_of("imagine", "--checkpoint", tmp_path / "rew_only.pt", "--data", breakout_stores[1], "--out", tmp_path)
    assert "no denoiser" in err
