"""`diamond study compounding-error` and `diamond study denoising-steps` end to end on their tiny presets:
expert data, trained world models, imagination, figures, results.json; re-running resumes; a changed
configuration is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diamond.cli import main
from diamond.layout import StudyRun, WorldModelRun

pytest.importorskip("ale_py")

PNG = b"\x89PNG"


def _study(name: str, out, *extra: str) -> int:
    return main(["study", name, "--preset", "tiny", "--out", str(out), "--device", "cpu", "--no-progress", *extra])


def _mtimes(out) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_compounding_error_study_end_to_end_then_resumes_without_redoing_work(tmp_path, capsys):
    out = tmp_path / "ce"
    assert _study("compounding-error", out) == 0
    results = json.loads((out / StudyRun.RESULTS).read_text())
    for model in ("ddpm", "edm"):
        assert (out / model / WorldModelRun.CHECKPOINT).is_file() and results["models"][model]["updates"] == 4
        for n in ("1", "2"):
            m = results["measurements"][model][n]
            assert len(m["psnr_per_step"]) == len(m["drift_per_step"]) == 6
            assert all(d > 0 for d in m["drift_per_step"]) and results["drift_ratio_last_quarter"][model][n] > 0
            grid = np.load(out / (StudyRun.measurement(model, int(n)) + ".npz"))["frames"]
            assert grid.shape == (3, 3, 64, 64) and grid.dtype == np.uint8  # the columns t = 1, 3, 6
    assert len(results["real_drift_per_step"]) == 6
    for figure in (StudyRun.GRID, StudyRun.CURVES):
        assert (out / figure).read_bytes()[:4] == PNG
    printed = capsys.readouterr().out
    assert "DDPM n=1:" in printed and "over the first 6 imagined steps" in printed  # the tiny preset's horizon
    before = _mtimes(out)
    assert _study("denoising-steps", out) == 2  # the other study in this folder: named, nothing touched
    assert f"{out} holds another study (CompoundingErrorConfig" in capsys.readouterr().err
    assert _mtimes(out) == before
    assert _study("compounding-error", out) == 0
    after = _mtimes(out)
    redone = {p for p in before if after[p] != before[p]}
    assert redone <= {
        StudyRun.RESULTS,
        StudyRun.GRID,
        StudyRun.CURVES,
        "data/train_expert.json",
        "data/test_expert.json",
    }
    again = json.loads((out / StudyRun.RESULTS).read_text())
    assert again["measurements"] == results["measurements"]


def test_denoising_steps_study_end_to_end_and_a_changed_configuration_is_refused(tmp_path, capsys):
    out = tmp_path / "ds"
    assert _study("denoising-steps", out) == 0
    results = json.loads((out / StudyRun.RESULTS).read_text())
    assert set(results["sharpness_ratio"]) == {"1", "3"}
    for regions in results["sharpness_ratio"].values():
        assert set(regions) == {"player (controlled)", "opponent", "whole frame"}
        assert all(v >= 0 for v in regions.values() if v == v)
    for figure in (StudyRun.GRID, StudyRun.ROLLOUTS, StudyRun.SHARPNESS):
        assert (out / figure).read_bytes()[:4] == PNG
    assert results["data"]["train"]["steps"] == 300 and results["model"]["updates"] == 4
    capsys.readouterr()
    before = _mtimes(out)
    assert _study("denoising-steps", out, "--set", "contexts=3") == 2
    err = capsys.readouterr().err
    assert "differs in: contexts" in err and str(out / StudyRun.CONFIG) in err
    assert _mtimes(out) == before  # nothing touched
    assert _study("denoising-steps", out, "--set", "horizon=3") == 2
    assert "unknown field 'horizon'" in capsys.readouterr().err
    assert main(["study", "denoising-steps", "--preset", "huge", "--out", str(tmp_path / "x")]) == 2
    assert "expected one of paper, cpu, tiny" in capsys.readouterr().err and not (tmp_path / "x").exists()
