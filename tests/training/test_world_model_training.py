"""World-model training on real (small) Breakout data: checkpoints, resume, refusal of mismatches."""

import json
from dataclasses import replace

import pytest
import torch

from diamond.checkpoints.denoiser import load_denoiser
from diamond.checkpoints.files import CheckpointError
from diamond.configs.presets import world_model_config
from diamond.configs.schema import ConfigError
from diamond.data import EpisodeStore
from diamond.training.world_model import CHECKPOINT, fit_to_data, train_world_model


def _setup(stores, **overrides):
    train, test = (EpisodeStore.open(p, read_only=True) for p in stores)
    cfg = world_model_config("tiny", None, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])
    return fit_to_data(cfg, train.metadata, "train"), train, test


def test_train_checkpoint_and_results(breakout_stores, tmp_path):
    cfg, train, test = _setup(breakout_stores)
    res = train_world_model(cfg, train, test, tmp_path / "run", torch.device("cpu"), log=lambda m: None, progress=False)
    assert res["steps"] == cfg.num_updates
    assert [h["step"] for h in res["history"]] == [0, 3, 6]
    assert (tmp_path / "run" / CHECKPOINT).exists() and (tmp_path / "run" / "config.json").exists()
    assert list((tmp_path / "run" / "tensorboard").iterdir())
    denoiser, loaded_cfg = load_denoiser(tmp_path / "run" / CHECKPOINT)
    assert loaded_cfg == cfg and denoiser.action_space.size == 4


def test_resume_continues_and_matches_uninterrupted_run(breakout_stores, tmp_path):
    cfg, train, test = _setup(breakout_stores)
    full = train_world_model(
        cfg, train, test, tmp_path / "full", torch.device("cpu"), log=lambda m: None, progress=False
    )
    # An interrupted run: stop at the checkpoint of step 3, then resume to the end.
    short = fit_to_data(world_model_config("tiny", None, []), train.metadata, "train")
    part = train_world_model(
        short, train, test, tmp_path / "part", torch.device("cpu"), max_minutes=0.0, log=lambda m: None, progress=False
    )
    assert part["stopped_early"] and part["steps"] == 1
    resumed = train_world_model(
        cfg, train, test, tmp_path / "part", torch.device("cpu"), resume=True, log=lambda m: None, progress=False
    )
    assert resumed["steps"] == full["steps"]
    a = torch.load(tmp_path / "full" / CHECKPOINT, weights_only=True)["denoiser"]
    b = torch.load(tmp_path / "part" / CHECKPOINT, weights_only=True)["denoiser"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert [h["step"] for h in resumed["history"]] == [0, 1, 3, 6]


def test_existing_run_is_not_overwritten_without_resume(breakout_stores, tmp_path):
    cfg, train, test = _setup(breakout_stores)
    train_world_model(cfg, train, test, tmp_path / "run", torch.device("cpu"), log=lambda m: None, progress=False)
    before = (tmp_path / "run" / CHECKPOINT).read_bytes()
    with pytest.raises(ConfigError, match="--resume"):
        train_world_model(cfg, train, test, tmp_path / "run", torch.device("cpu"), log=lambda m: None, progress=False)
    assert (tmp_path / "run" / CHECKPOINT).read_bytes() == before


def test_resume_with_another_configuration_is_refused(breakout_stores, tmp_path):
    cfg, train, test = _setup(breakout_stores)
    train_world_model(cfg, train, test, tmp_path / "run", torch.device("cpu"), log=lambda m: None, progress=False)
    other, _, _ = _setup(breakout_stores, **{"denoiser.net.cond_channels": 32})
    with pytest.raises(CheckpointError, match=r"denoiser\.net\.cond_channels: checkpoint=16, current=32"):
        train_world_model(other, train, test, tmp_path / "run", torch.device("cpu"), resume=True, log=lambda m: None)


def test_truncated_checkpoint_gives_clear_error(breakout_stores, tmp_path):
    cfg, train, test = _setup(breakout_stores)
    train_world_model(cfg, train, test, tmp_path / "run", torch.device("cpu"), log=lambda m: None, progress=False)
    path = tmp_path / "run" / CHECKPOINT
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_denoiser(path)


@pytest.mark.parametrize("formulation", ["edm", "ddpm"])
def test_training_lowers_the_loss(breakout_stores, tmp_path, formulation):
    # 60 updates of a tiny model on real frames: the loss must fall well below its starting value.
    cfg, train, test = _setup(
        breakout_stores,
        num_updates=60,
        eval_every=60,
        checkpoint_every=60,
        **{"training.optimizer.lr": 1e-3, "denoiser.formulation": formulation},
    )
    import numpy as np

    from diamond.data.sampler import SegmentSampler
    from diamond.training.world_model import WorldModelTraining

    run = WorldModelTraining(cfg, torch.device("cpu"))
    sampler = SegmentSampler(train, np.random.default_rng(0))
    losses = [float(run.component.update(sampler)["loss"]) for _ in range(60)]
    # predicting the noise (DDPM) learns slower at first: its loss starts at E[ε²] ≈ 1.09 and falls steadily
    assert np.mean(losses[-10:]) < {"edm": 0.5, "ddpm": 0.8}[formulation] * np.mean(losses[:5])


def test_a_ddpm_world_model_trains_saves_and_imagines(breakout_stores, tmp_path):
    from diamond.models.diffusion.ddpm import DdpmDenoiser

    cfg, train, test = _setup(breakout_stores, **{"denoiser.formulation": "ddpm"})
    res = train_world_model(cfg, train, test, tmp_path / "run", torch.device("cpu"), log=lambda m: None, progress=False)
    assert res["steps"] == cfg.num_updates and all(h["psnr_model"] > 0 for h in res["history"])
    denoiser, loaded = load_denoiser(tmp_path / "run" / CHECKPOINT)
    assert isinstance(denoiser, DdpmDenoiser) and loaded.denoiser.formulation == "ddpm"
    obs = torch.rand(2, denoiser.context_length, 3, 64, 64) * 2 - 1
    act = torch.zeros(2, denoiser.context_length, dtype=torch.long)
    for n in (1, 3):
        frame, trajectory = denoiser.sample_next_obs(obs, act, replace(cfg.sampler, num_steps_denoising=n))
        assert frame.shape == (2, 3, 64, 64) and frame.abs().max() <= 1 and len(trajectory) == n + 1


def test_the_command_resumes_from_the_runs_saved_configuration(breakout_stores, tmp_path, capsys):
    from diamond import cli

    run = tmp_path / "run"
    data = ["--data", str(breakout_stores[0]), "--test-data", str(breakout_stores[1]), "--out", str(run)]
    args = ["train-world-model", *data, "--device", "cpu", "--no-progress"]
    assert cli.main([*args, "--preset", "tiny", "--max-minutes", "1e-6"]) == 0  # stops at its first checkpoint
    stopped = torch.load(run / CHECKPOINT, weights_only=False)["step"]
    assert 0 < stopped < 6
    capsys.readouterr()
    assert cli.main([*args, "--resume", "--preset", "cpu"]) == 2  # a preset named again is compared, as before
    assert "checkpoint=" in capsys.readouterr().err
    assert cli.main([*args, "--resume"]) == 0  # no --preset: the run's own configuration (tiny) goes on
    assert torch.load(run / CHECKPOINT, weights_only=False)["step"] == 6
