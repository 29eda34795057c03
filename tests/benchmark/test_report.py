"""diamond report: the published aggregates, our runs against them, and what bad run folders get."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diamond.benchmark.references import PAPER_METHODS, load_paper_per_seed, load_table1
from diamond.benchmark.report import OURS, PAPER_DIAMOND, build_report
from diamond.benchmark.runs import ReportError

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PROTOCOL = {"env": "atari", "noop_max": 30, "frame_skip": 4, "ale_py_version": "0.11.2"}
FAST = {"reps": 300, "profile_reps": 50, "log": lambda m: None}


def write_run(
    root: Path, game: str, seed: int, score: float, protocol: dict | None = None, history: list | None = None
) -> Path:
    """A finished run folder as `diamond train` leaves it (the files the report reads)."""
    run = root / f"{game}-seed{seed}"
    run.mkdir(parents=True)
    (run / "protocol.json").write_text(
        json.dumps({"protocol": {**(protocol or PROTOCOL), "game": game, "env_id": f"{game}NoFrameskip-v4"}})
    )
    (run / "results.json").write_text(
        json.dumps(
            {
                "game": game,
                "env": "atari",
                "seed": seed,
                "model_free": False,
                "agent_steps": 100_000,
                "final": {"mean_return": score, "episodes": 100, "ci95": [score, score], "returns": [score] * 100},
                "test_history": history
                or [{"epoch": 10, "agent_steps": 5_000, "mean_return": score / 2, "returns": []}],
            }
        )
    )
    return run


def test_packaged_reference_data_is_the_papers(tmp_path):
    if not SHARED_DATA.exists():
        pytest.skip(f"{SHARED_DATA} is absent")
    assert load_table1() == load_table1(SHARED_DATA / "atari100k_paper_table1.csv")
    assert load_paper_per_seed() == load_paper_per_seed(SHARED_DATA / "diamond_paper_per_seed_scores.json")


def test_the_report_reproduces_the_papers_aggregates(tmp_path):
    report = build_report([], tmp_path / "rep", **FAST)
    agg = report.paper_aggregates
    assert round(agg[PAPER_DIAMOND]["mean"].point, 3) == 1.459
    assert round(agg[PAPER_DIAMOND]["iqm"].point, 3) == 0.641  # over the 5 × 26 per-seed runs
    assert agg[PAPER_DIAMOND]["iqm"].low < 0.641 < agg[PAPER_DIAMOND]["iqm"].high
    means = {m: round(agg[m]["mean"].point, 3) for m in PAPER_METHODS if m != "DIAMOND"}
    assert means == {"STORM": 1.266, "IRIS": 1.046, "TWM": 0.956, "SimPLe": 0.332, "DreamerV3": 1.130}
    assert report.paper_superhuman == {"DIAMOND": 11, "STORM": 10, "IRIS": 10, "DreamerV3": 9, "TWM": 8, "SimPLe": 1}
    table1, per_seed = load_table1(), load_paper_per_seed()
    for g in table1.games:  # the per-seed scores average to Table 1's DIAMOND column (rounded to 0.1)
        assert abs(np.mean(per_seed[g]) - table1.methods["DIAMOND"][g]) <= 0.05 + 1e-9
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "1.459" in md and "0.641" in md and "Published results, all 26 games" in md


def test_runs_with_the_papers_scores_get_the_papers_statistics(tmp_path):
    per_seed = load_paper_per_seed()
    runs = [write_run(tmp_path / "runs", g, s, per_seed[g][s]) for g in per_seed for s in range(5)]
    report = build_report(runs, tmp_path / "rep", **FAST)
    assert report.games == list(load_table1().games) and report.seeds_in_aggregates == [0, 1, 2, 3, 4]
    assert not report.missing and not report.games_not_run and not report.left_out
    for metric in ("mean", "median", "iqm", "optimality_gap"):
        ours, paper = report.aggregates[OURS][metric], report.aggregates[PAPER_DIAMOND][metric]
        assert ours.point == pytest.approx(paper.point, abs=1e-12)
    assert report.superhuman[OURS] == 11
    assert report.improvement[PAPER_DIAMOND].point == pytest.approx(0.5)  # identical runs: a coin flip
    out = tmp_path / "rep"
    assert {p.name for p in (out / "plots").iterdir()} == {
        "aggregates.png",
        "aggregates_paper.png",
        "profiles.png",
        "per_game.png",
        "learning_curves.png",
    }
    page = (out / "report.html").read_text()
    assert page.count("src='data:image/png;base64,") == 5 and "src='plots/" not in page  # self-contained
    saved = json.loads((out / "report.json").read_text())
    assert saved["aggregates"][OURS]["iqm"][0] == pytest.approx(0.6408, abs=1e-4)


def test_better_runs_improve_and_missing_cells_are_named(tmp_path):
    table1 = load_table1()
    root = tmp_path / "runs"
    runs = [write_run(root, g, s, table1.human[g] * (10.0 + s)) for g in ("Pong", "Breakout") for s in (0, 1, 2)]
    (runs[-1] / "results.json").unlink()  # Breakout seed 2 has not finished: no results.json yet
    report = build_report(runs, tmp_path / "rep", **FAST)
    assert report.games == ["Breakout", "Pong"]  # Table 1's order
    assert report.missing == ["Breakout seed 2"] and report.seeds_in_aggregates == [0, 1]
    assert len(report.games_not_run) == 24 and "Alien" in report.games_not_run
    assert any("Breakout-seed2" in line and "results.json" in line for line in report.left_out)
    assert report.superhuman[OURS] == 2
    for method, p in report.improvement.items():  # ten times human on both games beats every method
        assert p.point == 1.0, method
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "Missing runs" in md and "- Breakout seed 2" in md and "Atari 100k games with no run" in md


def test_bad_run_folders(tmp_path):
    root = tmp_path / "runs"
    a = write_run(root, "Pong", 0, 1.0)
    b = write_run(root, "Pong", 1, 2.0, protocol={**PROTOCOL, "noop_max": 0})
    with pytest.raises(ReportError, match=r"noop_max: 30 in .*Pong-seed0; 0 in .*Pong-seed1"):
        build_report([a, b], tmp_path / "rep", **FAST)
    assert not (tmp_path / "rep").exists()  # refused before writing anything
    report = build_report([a, b], tmp_path / "rep", allow_mixed_protocols=True, **FAST)
    assert report.seeds_in_aggregates == [0, 1]

    with pytest.raises(ReportError, match="two runs of Pong with seed 0"):
        build_report([a, a], tmp_path / "rep2", **FAST)
    with pytest.raises(ReportError, match="none of the run folders can be reported"):
        build_report([tmp_path / "nope"], tmp_path / "rep3", **FAST)
    (root / "broken").mkdir()
    (root / "broken" / "results.json").write_text("{not json")
    with pytest.raises(ReportError, match="broken/results.json: not valid JSON"):
        build_report([root / "broken"], tmp_path / "rep4", **FAST)
    minatar = write_run(root, "breakout", 0, 3.0)
    with pytest.raises(ReportError, match="'breakout' has no random/human reference"):
        build_report([minatar], tmp_path / "rep5", **FAST)


def test_cli_reports_and_refuses_mixed_protocols(tmp_path):
    root = tmp_path / "runs"
    a = write_run(root, "Pong", 0, 15.0)
    b = write_run(root, "Pong", 1, 2.0, protocol={**PROTOCOL, "frame_skip": 2})
    cmd = [sys.executable, "-m", "diamond.cli", "report", "--reps", "200", "--profile-reps", "20", "--out"]
    bad = subprocess.run([*cmd, str(tmp_path / "rep"), str(a), str(b)], capture_output=True, text=True)
    assert bad.returncode == 2 and "frame_skip" in bad.stderr and "--allow-mixed-protocols" in bad.stderr
    ok = subprocess.run([*cmd, str(tmp_path / "rep"), str(a)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "ours" in ok.stdout and (tmp_path / "rep" / "report.html").exists()
