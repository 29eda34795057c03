"""diamond sweep: validation before launch, a real local sweep killed and relaunched, the SLURM launcher's config."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from diamond.sweeps.launch import parse_seeds

SWEEP = [sys.executable, "-m", "diamond.cli", "sweep"]


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, **kw)


def test_bad_sweeps_fail_before_anything_is_launched(tmp_path):
    root = tmp_path / "sweep"
    bad = run([*SWEEP, "--games", "Breakout,Pacman", "--seeds", "0", "--preset", "tiny", "--root", str(root)])
    assert bad.returncode == 2 and "'Pacman'" in bad.stderr and "--games" in bad.stderr
    bad = run(
        [
            *SWEEP,
            "--games",
            "Breakout",
            "--seeds",
            "0",
            "--preset",
            "tiny",
            "--root",
            str(root),
            "--set",
            "schedule.total_steps=-5",
        ]
    )
    assert bad.returncode == 2 and "total_steps" in bad.stderr
    bad = run([*SWEEP, "--games", "Breakout", "--seeds", "1,1", "--root", str(root)])
    assert bad.returncode == 2 and "distinct" in bad.stderr
    bad = run([*SWEEP, "--games", "Breakout", "--seeds", "0", "--device", "gpu", "--root", str(root), "--dry-run"])
    assert bad.returncode == 2 and "--device 'gpu' is invalid; expected 'auto', 'cpu', 'cuda'" in bad.stderr
    slurm = [*SWEEP, "--games", "Breakout", "--seeds", "0", "--launcher", "slurm", "--root", str(root), "--dry-run"]
    assert run([*slurm, "--device", "cuda:1"]).returncode == 0  # the job's node has the GPU, not this one
    assert not root.exists()  # nothing launched, nothing written
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("3,1") == [3, 1]


def test_slurm_launcher_is_configured_through_hydra(tmp_path):
    out = run(
        [
            *SWEEP,
            "--games",
            "all",
            "--seeds",
            "0-4",
            "--root",
            str(tmp_path / "s"),
            "--launcher",
            "slurm",
            "--partition",
            "gpu",
            "--timeout-min",
            "4320",
            "--gpus-per-node",
            "1",
            "--dry-run",
        ]
    )
    assert out.returncode == 0, out.stderr
    command = json.loads(out.stdout)["command"]
    assert "hydra/launcher=submitit_slurm" in command and "hydra.launcher.partition=gpu" in command
    assert len(json.loads(out.stdout)["status"]) == 26 * 5
    # the composed Hydra config of one job: the submitit SLURM launcher with our options
    i = command.index("--multirun")
    job_args = [a.split(",")[0] if a.startswith(("game=", "seed=")) else a for a in command[i + 1 :]]
    cfg = run([*command[:i], *job_args, "--cfg", "hydra"])
    assert cfg.returncode == 0, cfg.stderr
    assert "submitit_launcher.SlurmLauncher" in cfg.stdout and "partition: gpu" in cfg.stdout
    assert "timeout_min: 4320" in cfg.stdout and "gpus_per_node: 1" in cfg.stdout


@pytest.mark.slow
def test_local_sweep_killed_and_relaunched_completes_only_what_was_missing(tmp_path):
    root = tmp_path / "sweep"
    args = [
        *SWEEP,
        "--games",
        "Breakout,Qbert",
        "--seeds",
        "0,1",
        "--preset",
        "tiny",
        "--root",
        str(root),
        "--report-reps",
        "300",
        "--device",
        "cpu",
    ]
    first, second = root / "Breakout" / "seed0", root / "Breakout" / "seed1"
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 900
            while not ((first / "results.json").exists() and (second / "checkpoints" / "agent.pt").exists()):
                assert proc.poll() is None, (tmp_path / "first.log").read_text()
                assert time.monotonic() < deadline, "the sweep did not reach its second run in time"
                time.sleep(0.2)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole sweep, mid-way through its second run
            proc.wait()
    assert not (second / "results.json").exists()
    finished_before = (first / "results.json").stat().st_mtime_ns

    again = run(args, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[Breakout seed 0] finished earlier" in again.stdout
    assert "[Breakout seed 1] resuming" in again.stdout
    assert "[Qbert seed 0] starting" in again.stdout and "[Qbert seed 1] starting" in again.stdout
    assert (first / "results.json").stat().st_mtime_ns == finished_before  # not trained again
    for game in ("Breakout", "Qbert"):
        for seed in (0, 1):
            results = json.loads((root / game / f"seed{seed}" / "results.json").read_text())
            assert (results["game"], results["seed"], results["agent_steps"]) == (game, seed, 300)
    report = json.loads((root / "report" / "report.json").read_text())
    assert report["games"] == ["Breakout", "Qbert"] and report["seeds_in_aggregates"] == [0, 1]
    assert not report["missing"] and not report["left_out"] and len(report["games_not_run"]) == 24
    assert (root / "report" / "report.html").exists()
