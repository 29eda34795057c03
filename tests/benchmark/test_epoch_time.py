"""``diamond time-epoch``: a real run of two epochs, timed, and the whole run extrapolated from it."""

import json
import os
import subprocess
import sys

import pytest

from diamond.cli import main
from diamond.configs.schema import TrainConfig, from_dict
from diamond.layout import AgentRun
from diamond.training.schedule import run_totals

pytest.importorskip("minatar")

TINY = ["--preset", "tiny", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def test_run_totals_are_what_a_whole_run_does(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    cfg = from_dict(TrainConfig, json.loads((run / AgentRun.CONFIG).read_text()), "config.json")
    initial = json.loads((run / AgentRun.RESULTS).read_text())["initial_steps"]
    lines = [json.loads(x) for x in (run / AgentRun.METRICS).read_text().splitlines()]
    totals = run_totals(cfg.schedule, initial)
    assert totals.epochs == len(lines) and initial + totals.collect_steps == lines[-1]["agent_steps"]
    assert totals.evaluations == sum("test/return" in x for x in lines) > 0


def test_time_epoch_times_paper_size_networks_and_extrapolates_the_papers_run(tmp_path):
    # the paper's networks and schedule, a shortened epoch: 2 updates of each network at batch 2
    out, report = tmp_path / "run", tmp_path / "epoch.json"
    small = ["denoiser_training.batch_size=2", "rew_end_training.batch_size=2"]
    small += ["actor_critic_training.imagination.batch_size=2"]
    args = ["time-epoch", "--preset", "paper", "--device", "cpu", "--updates", "2", "--out", out, "--json", report]
    args += [x for item in small for x in ("--set", item)]
    proc = subprocess.run(
        [sys.executable, "-m", "diamond.cli", *map(str, args)], capture_output=True, text=True, env=ENV
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(report.read_text())
    paper = TrainConfig()
    timed = from_dict(TrainConfig, json.loads((out / AgentRun.CONFIG).read_text()), "config.json")
    assert timed.denoiser.net.channels == paper.denoiser.net.channels  # paper-size networks
    assert timed.actor_critic.lstm_dim == paper.actor_critic.lstm_dim

    initial = r["initial_collection"]["steps"]
    assert 5_000 <= initial <= 10_000 and r["initial_collection"]["seconds"] > 0
    assert r["timed_epoch"]["updates"] == {"denoiser": 2, "rew_end": 2, "actor_critic": 2}
    assert r["timed_epoch"]["collect_steps"] == 100
    per_update = r["seconds_per_update"]
    for name in ("denoiser", "rew_end", "actor_critic"):
        assert per_update[name] == pytest.approx(r["timed_epoch"]["seconds"][name] / 2) and per_update[name] > 0

    # the whole run is the paper's schedule, not the shortened one, at the timed rates
    totals = run_totals(paper.schedule, initial)
    whole = r["whole_run"]
    assert (whole["epochs"], whole["collect_steps"], whole["updates"]) == (
        totals.epochs,
        totals.collect_steps,
        totals.updates,
    )
    assert whole["updates"]["denoiser"] == 10_000 + 400 * (totals.epochs - 1)
    expected = (
        r["initial_collection"]["seconds"]
        + totals.collect_steps * r["seconds_per_collected_step"]
        + sum(n * per_update[name] for name, n in totals.updates.items())
        + totals.epochs * r["overhead_seconds_per_epoch"]
    )
    assert whole["seconds"] == pytest.approx(expected)
    regular = r["regular_epoch"]
    assert regular["updates"] == {"denoiser": 400, "rew_end": 400, "actor_critic": 400}
    assert regular["seconds"] == pytest.approx(
        100 * r["seconds_per_collected_step"] + 400 * sum(per_update.values()) + r["overhead_seconds_per_epoch"]
    )
    assert f"the whole run ({totals.epochs:,} epochs, 100,000 agent steps" in proc.stdout
    assert f"without {totals.evaluations} evaluations of 4 test episodes" in proc.stdout


def test_time_epoch_leaves_no_scratch_folder_and_refuses_bad_input(tmp_path, capsys):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "diamond.cli", "time-epoch", *TINY, "--updates", "1"],
        capture_output=True,
        text=True,
        env={**ENV, "TMPDIR": str(scratch)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "a regular epoch" in proc.stdout and "the whole run" in proc.stdout
    assert not list(scratch.glob("diamond-time-epoch-*"))  # the timed run's folder is gone (torch's caches stay)

    assert main(["time-epoch", *TINY, "--updates", "0"]) == 2
    assert "--updates 0 is invalid; expected at least 1" in capsys.readouterr().err
    assert main(["time-epoch", *TINY, "--set", "model_free=true"]) == 2
    assert "model_free=true runs have no such epochs" in capsys.readouterr().err
    one_epoch = ["schedule.total_steps=100", "schedule.initial_steps=100", "schedule.initial_steps_max=100"]
    one_epoch += ["schedule.extra_epochs=0"]
    code = main(["time-epoch", *TINY, *[x for item in one_epoch for x in ("--set", item)]])
    assert code == 2 and "the schedule ends before a second epoch" in capsys.readouterr().err
    existing = tmp_path / "run"
    assert main(["train", *TINY, "--set", "schedule.total_steps=150", "--out", str(existing)]) == 0
    before = (existing / AgentRun.METRICS).read_text()
    assert main(["time-epoch", *TINY, "--out", str(existing)]) == 2  # a run folder is never overwritten
    assert f"--out {existing} already holds a run" in capsys.readouterr().err
    assert (existing / AgentRun.METRICS).read_text() == before
