"""The studies' building blocks (spec §9): expert data stages that resume, model configurations, figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diamond.configs.schema import ConfigError
from diamond.data.datasets import open_dataset
from diamond.layout import StudyRun
from diamond.studies.config import COMPOUNDING_ERROR_PRESETS, DENOISING_STEPS_PRESETS, StudyData
from diamond.studies.figures import frame_grids, horizon_curves, sharpness_bars
from diamond.studies.pipeline import expert_data, model_config

pytest.importorskip("ale_py")


def test_expert_data_collects_once_and_reports_the_experts_games(tmp_path):
    lines: list[str] = []
    data = StudyData("Breakout", train_steps=150, test_steps=60)
    first = expert_data(tmp_path, data, lines.append)
    assert first["train"]["steps"] == 150 and first["test"]["steps"] == 60
    assert any("collecting 150 Breakout steps" in line for line in lines)
    lines.clear()
    again = expert_data(tmp_path, data, lines.append)  # complete: nothing collected again
    assert again == first and lines == []
    grown = expert_data(tmp_path, StudyData("Breakout", train_steps=200, test_steps=60), lines.append)
    assert grown["train"]["steps"] == 200 and any("collecting 50" in line for line in lines)
    assert (tmp_path / StudyRun.data("test") / "metadata.json").is_file()


def test_expert_scores_are_recorded_as_collected_and_rebuilt_when_the_record_is_missing(tmp_path):
    data = StudyData("Boxing", train_steps=2_500, test_steps=10)  # the expert ends a game by knock-out or time
    first = expert_data(tmp_path, data, lambda line: None)
    record = tmp_path / StudyRun.expert_scores("train")
    assert first["train"]["complete_games"] >= 1 and json.loads(record.read_text())["steps"] == 2_500
    with open_dataset(tmp_path / StudyRun.data("train"), "test") as store:
        assert first["train"]["expert_returns"] == [float(r) for r in store.returns[:-1]]  # the last is cut off
    record.unlink()
    assert expert_data(tmp_path, data, lambda line: None) == first  # rebuilt from the stored episodes


def test_compared_models_differ_only_in_their_formulation(tmp_path):
    meta = {"obs_shape": [3, 64, 64], "num_actions": 4}
    models = COMPOUNDING_ERROR_PRESETS["cpu"].models
    edm, ddpm = (model_config(models, f, meta, "test") for f in ("edm", "ddpm"))
    assert (edm.denoiser.formulation, ddpm.denoiser.formulation) == ("edm", "ddpm")
    assert edm.denoiser.net == ddpm.denoiser.net and edm.training == ddpm.training
    assert edm.num_updates == ddpm.num_updates == models.num_updates
    assert edm.denoiser.net.channels == (16, 16, 16, 16) and "4" in str(edm.denoiser.net.action_space)
    for presets in (COMPOUNDING_ERROR_PRESETS, DENOISING_STEPS_PRESETS):
        for name, cfg in presets.items():
            cfg.validate(name)
    bad = DENOISING_STEPS_PRESETS["tiny"].__class__(denoising_steps=(1, 1))
    with pytest.raises(ConfigError, match="denoising_steps=\\(1, 1\\)"):
        bad.validate("study")


def test_figures_are_written(tmp_path):
    grid = np.random.default_rng(0).integers(0, 256, (2, 3, 3, 8, 8), dtype=np.uint8)
    assert (
        frame_grids({"DDPM": grid, "EDM": grid}, ["n=1", "n=3"], ["1", "2", "3"], tmp_path / "g.png", "t")
        .stat()
        .st_size
    )
    steps = np.arange(1, 6)
    curves = {m: {1: np.linspace(30, 10, 5), 3: np.linspace(32, 12, 5)} for m in ("ddpm", "edm")}
    assert horizon_curves(steps, curves, curves, np.ones(5), tmp_path / "c.png").stat().st_size
    ratios = {1: {"player": 0.9, "opponent": 0.5}, 3: {"player": 1.0, "opponent": 0.9}}
    assert sharpness_bars(ratios, tmp_path / "s.png").stat().st_size
