"""`diamond engine-fps` runs end to end on a tiny engine and writes well-formed figures (no timing thresholds)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from diamond.benchmark.engine_speed import SIZES, TimedEngine, engine_speed
from diamond.benchmark.engine_speed_report import format_engine_speed
from diamond.benchmark.limits import native_bfloat16
from diamond.benchmark.speed import wake_zero_layers
from diamond.checkpoints.project import save_checkpoint
from diamond.configs.engine import EngineConfig, dynamics_denoiser, upsampler_denoiser
from diamond.configs.presets import engine_config
from diamond.configs.schema import to_dict
from diamond.models.engine import Engine

TINY = EngineConfig(
    dynamics=dynamics_denoiser(channels=(8, 8), depths=(1, 1), attn_depths=(False, True), cond_channels=16),
    upsampler=upsampler_denoiser(channels=(8, 8), depths=(1, 1), attn_depths=(False, False), cond_channels=16),
)


def test_engine_fps_command_writes_the_figures_and_the_machine(tmp_path):
    engine = Engine(TINY)
    ckpt = save_checkpoint(
        tmp_path / "tiny.pt",
        to_dict(TINY),
        kind="engine",
        dynamics=engine.dynamics.state_dict(),
        upsampler=engine.upsampler.state_dict(),
    )
    cmd = ["engine-fps", "--checkpoint", str(ckpt), "--device", "cpu", "--steps", "2", "--warmup", "0"]
    proc = subprocess.run(
        [sys.executable, "-m", "diamond.cli", *cmd, "--json", str(tmp_path / "fps.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fast" in proc.stdout and "higher_quality" in proc.stdout
    result = json.loads((tmp_path / "fps.json").read_text())
    machine = result["machine"]
    assert machine["device"] == "cpu" and machine["threads"] == 1 and machine["omp_num_threads"] == "1"
    assert {"torch", "python", "device_name", "cpu_count"} <= set(machine)
    # both layouts by default, in this order; in bfloat16 too where the CPU computes in it
    native = native_bfloat16(torch.device("cpu"))
    assert (
        list(result["engines"])
        == ["tiny", "tiny/channels_last"]
        + [
            "tiny/bfloat16",
            "tiny/channels_last/bfloat16",
        ]
        * native
    )
    assert [e["layout"] for e in result["engines"].values()] == ["contiguous", "channels_last"] * (1 + native)
    assert "tiny/channels_last" in proc.stdout
    tiny = result["engines"]["tiny"]
    assert tiny["source"] == str(ckpt) and tiny["steps"] == 2 and tiny["warmup"] == 0
    assert tiny["params"] == {
        "dynamics": sum(p.numel() for p in engine.dynamics.parameters()),
        "upsampler": sum(p.numel() for p in engine.upsampler.parameters()),
    }
    assert tiny["config"]["dynamics"]["channels"] == [8, 8]
    for setting, (dyn_steps, up_steps) in {"fast": (1, 1), "higher_quality": (3, 10)}.items():
        f = tiny["settings"][setting]
        assert len(f["step_times_s"]) == 2 and f["fps"] == pytest.approx(1 / f["median_step_s"])
        assert (f["dynamics"]["denoising_steps"], f["upsampler"]["denoising_steps"]) == (dyn_steps, up_steps)
        assert len(f["dynamics"]["times_s"]) == len(f["upsampler"]["times_s"]) == 2
        assert "other_cpu_share" in f


def test_sizes_are_the_paper_engine_and_the_cpu_one():
    assert SIZES["csgo"]() == EngineConfig() and SIZES["cpu"]() == engine_config("cpu")


def test_each_precision_and_layout_is_timed_and_its_frames_compared_with_the_first():
    torch.manual_seed(0)
    engine = wake_zero_layers(Engine(TINY))  # else every precision returns the same frame
    item = TimedEngine("tiny", engine, "random weights")
    result = engine_speed(
        [item], steps=1, warmup=0, layouts=["contiguous", "channels_last"], precisions=["float32", "bfloat16"]
    )
    names = ["tiny", "tiny/channels_last", "tiny/bfloat16", "tiny/channels_last/bfloat16"]
    assert list(result["engines"]) == names
    entries = result["engines"]
    assert [e["precision"] for e in entries.values()] == ["float32", "float32", "bfloat16", "bfloat16"]
    for setting in ("fast", "higher_quality"):
        assert entries["tiny"]["quality"][setting]["changed_pixel_fraction"] == 0  # itself
        same = entries["tiny/channels_last"]["quality"][setting]  # float32 in another summation order
        assert same["changed_pixel_fraction"] < 0.01 and same["max_pixel_difference"] <= 1, setting
        for name in names[2:]:  # bfloat16: some pixels move, the picture does not
            q = entries[name]["quality"][setting]
            assert 0 < q["changed_pixel_fraction"] < 0.5 and q["psnr_db"] > 35, (name, setting, q)
    report = format_engine_speed(result)
    assert "tiny/channels_last/bfloat16" in report and "against the same engine's first entry's" in report
    with pytest.raises(ValueError, match="engine-fps --precision 'float16' is for CUDA devices"):
        engine_speed([item], steps=1, warmup=0, precisions=["float16"])
