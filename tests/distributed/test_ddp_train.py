"""`diamond train` under torchrun with 2 gloo processes on the CPU: rank 0 collects and reports, both
update the models on their shards; a killed run resumes with the same number of processes only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import torch

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (torchrun's workers run in sessions of their own)."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            children = open(f"/proc/{pid}/task/{task}/children").read().split()
        except OSError:
            continue
        for child in map(int, children):
            out += [child, *descendants(child)]
    return out


def test_data_parallel_train_killed_and_resumed(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    train = ["-m", "diamond.cli", "train", "--preset", "tiny", "--device", "cpu"]
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            [*TORCHRUN, *train, "--out", str(run)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        try:
            deadline = time.monotonic() + 600
            while not (run / "checkpoints" / "agent.pt").exists():
                assert proc.poll() is None, (tmp_path / "first.log").read_text()
                assert time.monotonic() < deadline, "no checkpoint in time"
                time.sleep(0.1)
        finally:
            victims = [proc.pid, *descendants(proc.pid)]  # the launcher and both workers, as a crashed node would
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            proc.wait()
        assert len(victims) >= 3
    assert not (run / "results.json").exists()
    saved = torch.load(run / "checkpoints" / "agent.pt", weights_only=False)
    assert saved["world_size"] == 2 and len(saved["follower_rngs"]) == 1
    # the follower's sampling stream is its own, not rank 0's
    assert saved["follower_rngs"][0]["numpy_rng"] != saved["agent"]["numpy_rng"]

    alone = subprocess.run([sys.executable, *train[:3], "--resume", str(run)], capture_output=True, text=True, env=env)
    assert alone.returncode == 2 and "2 process(es)" in alone.stderr and "--nproc-per-node 2" in alone.stderr
    assert not (run / "results.json").exists()

    resumed = subprocess.run(
        [*TORCHRUN, *train[:3], "--resume", str(run)], capture_output=True, text=True, env=env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed" in resumed.stdout
    results = json.loads((run / "results.json").read_text())
    assert results["agent_steps"] == 300 and results["final"]["episodes"] == 3
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, results["epochs"] + 1))  # none redone twice
