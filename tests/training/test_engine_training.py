"""`diamond train-engine` (spec §10) on a small static dataset imported from real HDF5 files: it trains
both networks, evaluates, checkpoints every epoch, resumes exactly after SIGKILL, and refuses what it
cannot honour without changing anything."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from diamond import cli
from diamond.checkpoints.engine import load_engine
from diamond.checkpoints.files import CheckpointError
from diamond.configs.presets import engine_config
from diamond.configs.schema import ConfigError
from diamond.layout import EngineEvaluation, EngineRun
from diamond.training.engine import train_engine

pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def dataset(engine_dataset) -> Path:
    return engine_dataset


def quiet(message: str) -> None:
    pass


def test_trains_evaluates_and_checkpoints(dataset, tmp_path):
    cfg = engine_config("tiny")
    results = train_engine(
        cfg, dataset, tmp_path / "run", torch.device("cpu"), setting="fast", log=quiet, progress=False
    )
    run = tmp_path / "run"
    assert results["epochs"] == cfg.num_epochs == 3
    assert results["updates"] == {"dynamics": 3 * 2, "upsampler": 3 * 2}
    lines = [json.loads(line) for line in (run / EngineRun.METRICS).read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2, 3]
    assert all(m["train/dynamics_loss"] > 0 and m["train/upsampler_loss"] > 0 for m in lines)
    assert "eval" in lines[1] and "eval" not in lines[0]  # eval_every 2; the last epoch's is the final one
    for epoch in (2, 3):
        folder = run / EngineRun.evaluation(epoch)
        assert (folder / EngineEvaluation.RESULTS).exists() and (folder / EngineEvaluation.ROLLOUT_VIDEO).exists()
    assert json.loads((run / EngineRun.RESULTS).read_text())["epochs"] == 3
    engine = load_engine(run / EngineRun.CHECKPOINT)
    assert engine.cfg == cfg
    saved = torch.load(run / EngineRun.CHECKPOINT, weights_only=False)
    assert saved["kind"] == "engine" and saved["dynamics_scheduler"]["last_epoch"] == 6

    # The trained engine evaluated again by its own command, with the other sampling setting.
    out = tmp_path / "evaluation"
    args = ["evaluate-engine", str(run / EngineRun.CHECKPOINT), str(dataset), "--out", str(out)]
    assert cli.main([*args, "--contexts", "2", "--horizon", "3", "--device", "cpu"]) == 0
    evaluation = json.loads((out / EngineEvaluation.RESULTS).read_text())
    assert evaluation["setting"] == "higher_quality" and evaluation["rollouts"]["horizon"] == 3


def test_commands_name_a_folder_that_is_not_a_dataset(tmp_path, capsys):
    code = cli.main(["train-engine", str(tmp_path), "--out", str(tmp_path / "run"), "--preset", "tiny"])
    assert code == 2
    assert f"{tmp_path}: no train/low_res episode store" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_refuses_to_overwrite_or_resume_another_configuration(dataset, tmp_path):
    cfg = engine_config("tiny", None, ["num_epochs=1"])
    train_engine(cfg, dataset, tmp_path / "run", torch.device("cpu"), log=quiet, progress=False)
    checkpoint = (tmp_path / "run" / EngineRun.CHECKPOINT).read_bytes()
    with pytest.raises(ConfigError, match="already holds an engine checkpoint; pass --resume"):
        train_engine(cfg, dataset, tmp_path / "run", torch.device("cpu"), log=quiet, progress=False)
    other = engine_config("tiny", None, ["num_epochs=1", "dynamics_training.optimizer.lr=0.5"])
    with pytest.raises(CheckpointError, match="dynamics_training.optimizer.lr: checkpoint=0.0001, current=0.5"):
        train_engine(other, dataset, tmp_path / "run", torch.device("cpu"), resume=True, log=quiet, progress=False)
    assert (tmp_path / "run" / EngineRun.CHECKPOINT).read_bytes() == checkpoint


def train_command(dataset: Path, run: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "diamond.cli", "train-engine", str(dataset), "--out", str(run), "--preset", "tiny",
            "--set", "num_epochs=6", "--set", "eval_every=100", "--setting", "fast", "--device", "cpu", "--no-progress",
            *extra]  # fmt: skip


def test_resumes_exactly_after_sigkill(dataset, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = tmp_path / "straight"
    subprocess.run(train_command(dataset, straight), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        train_command(dataset, killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    metrics = killed / EngineRun.METRICS
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run(train_command(dataset, killed, "--resume"), check=True, env=env, capture_output=True)

    a = torch.load(straight / EngineRun.CHECKPOINT, weights_only=False)
    b = torch.load(killed / EngineRun.CHECKPOINT, weights_only=False)
    assert a["epoch"] == b["epoch"] == 6
    for part in ("dynamics", "upsampler"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key}"
    lines = [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()]
    assert lines == [1, 2, 3, 4, 5, 6]


def test_a_test_split_too_short_to_evaluate_is_refused_before_training(dataset, tmp_path, capsys):
    import shutil

    from diamond.data.store import EpisodeStore

    run = tmp_path / "run"
    args = ["train-engine", str(dataset), "--out", str(run), "--preset", "tiny", "--device", "cpu"]
    assert cli.main([*args, "--set", "rollout_horizon=100000"]) == 2
    err = capsys.readouterr().err
    assert f"{dataset}/test: the held-out evaluation" in err and "needs an episode of at least 100004 frames" in err
    assert not run.exists()  # refused before anything was written
    # a dataset imported with --test-split none: its test stores exist and are empty
    empty = tmp_path / "no_test"
    shutil.copytree(dataset / "train", empty / "train")
    for res in ("low_res", "full_res"):
        metadata = json.loads((dataset / "test" / res / "metadata.json").read_text())["metadata"]
        EpisodeStore.create(empty / "test" / res, metadata).close()
    assert cli.main(["train-engine", str(empty), "--out", str(run), "--preset", "tiny", "--device", "cpu"]) == 2
    assert "it holds no episode (a dataset imported with --test-split none" in capsys.readouterr().err
    assert not run.exists()
