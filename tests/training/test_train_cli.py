"""``diamond train`` end to end with the tiny preset: a run folder, resume after SIGKILL, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from diamond.cli import main
from diamond.data import EpisodeStore

pytest.importorskip("minatar")

# A few seconds per run; epochs long enough (about a second) to be killed in the middle of one.
TINY = [
    "--preset",
    "tiny",
    "--device",
    "cpu",
    "--set",
    "schedule.total_steps=450",
    "--set",
    "schedule.denoiser_updates=6",
    "--set",
    "schedule.rew_end_updates=6",
    "--set",
    "schedule.actor_critic_updates=6",
]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}

# `diamond train` whose second end-of-epoch checkpoint kills the process first: after epoch 2's metrics
# line, before its checkpoint
KILL_AT_SECOND_CHECKPOINT = """
import os, signal, sys
from diamond.cli import main
from diamond.training import run_state

saves = 0
save_state = run_state.save_state


def save_or_die(*args, **kwargs):
    global saves
    saves += 1
    if saves == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    save_state(*args, **kwargs)


run_state.save_state = save_or_die
sys.exit(main(sys.argv[1:]))
"""


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "diamond.cli", "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )


def _episodes(run: Path) -> list:
    store = EpisodeStore.open(run / "data" / "train", read_only=True)
    return [store.get(i) for i in range(len(store))]


def _epochs(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _metric_epochs(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    proc = _cli(*TINY, "--out", str(a))
    out_a = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out_a

    proc = _cli(*TINY, "--out", str(b))
    deadline = time.monotonic() + 300
    while _epochs(b) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.4)  # into the next epoch: past its checkpoint, collecting or training
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (b / "results.json").exists(), "the run finished before it could be killed"
    saved = torch.load(b / "checkpoints" / "agent.pt", weights_only=True)
    assert saved["run"]["epoch"] < json.loads((a / "results.json").read_text())["epochs"]

    proc = _cli("--resume", str(b), "--device", "cpu")
    out_b = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out_b
    assert f"resumed {b} after epoch {saved['run']['epoch']}" in out_b

    ra, rb = (json.loads((r / "results.json").read_text()) for r in (a, b))
    assert ra["agent_steps"] == rb["agent_steps"] and ra["epochs"] == rb["epochs"]
    ea, eb = _episodes(a), _episodes(b)
    assert len(ea) == len(eb)
    assert sum(len(e) for e in eb) == rb["agent_steps"] - 0 or sum(len(e) for e in eb) <= rb["agent_steps"]
    for x, y in zip(ea, eb):  # the same episodes, step for step: none lost, none duplicated
        for field in ("obs", "act", "rew", "end", "trunc", "final_obs"):
            assert np.array_equal(getattr(x, field), getattr(y, field)), field
    assert ra["final"]["returns"] == rb["final"]["returns"]
    metrics = [json.loads(line)["epoch"] for line in (b / "metrics.jsonl").read_text().splitlines()]
    assert metrics == list(range(1, rb["epochs"] + 1))  # one line per epoch: none repeated, none lost

    # the real steps' rates, beside the imagined ones: the same after the resume, and true to the episodes
    ma, mb = ([json.loads(line) for line in (r / "metrics.jsonl").read_text().splitlines()] for r in (a, b))
    for key in ("collect/reward_mean", "collect/end_rate"):
        assert [m.get(key) for m in ma] == [m.get(key) for m in mb]
    steps = np.diff([0] + [m["agent_steps"] for m in ma])
    assert [s > 0 for s in steps] == ["collect/end_rate" in m for m in ma] and steps[-1] == 0  # the extra epochs
    ends = sum(round(m.get("collect/end_rate", 0) * s) for m, s in zip(ma, steps))
    rewards = sum(round(m.get("collect/reward_mean", 0) * s) for m, s in zip(ma, steps))
    assert ends == sum(int(e.end[-1]) for e in ea) > 0  # an end always closes a stored episode
    assert rewards >= sum(int(np.sign(e.rew).sum()) for e in ea) > 0  # and the episodes still running score too


def test_kill_between_metrics_line_and_checkpoint_neither_repeats_nor_loses_a_line(tmp_path):
    driver, run = tmp_path / "driver.py", tmp_path / "run"
    driver.write_text(KILL_AT_SECOND_CHECKPOINT)
    killed = subprocess.run(
        [sys.executable, str(driver), "train", "--preset", "tiny", "--device", "cpu", "--out", str(run)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert _metric_epochs(run) == [1, 2]  # epoch 2's line is written...
    assert torch.load(run / "checkpoints" / "agent.pt", weights_only=True)["run"]["epoch"] == 1  # ...its checkpoint not

    proc = _cli("--resume", str(run), "--device", "cpu")
    out = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, out
    assert f"resumed {run} after epoch 1" in out
    results = json.loads((run / "results.json").read_text())
    assert results["epochs"] == 5 and _metric_epochs(run) == [1, 2, 3, 4, 5]


def test_finished_run_given_a_larger_budget_trains_on(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--device", "cpu", "--out", str(run)]) == 0
    first = json.loads((run / "results.json").read_text())
    assert (first["agent_steps"], first["epochs"]) == (300, 5)
    capsys.readouterr()

    bigger = tmp_path / "bigger.json"
    bigger.write_text(json.dumps({"schedule": {"total_steps": 400}}))  # applied on top of the saved configuration
    assert main(["train", "--resume", str(run), "--device", "cpu", "--config", str(bigger)]) == 2
    err = capsys.readouterr().err
    assert "schedule.total_steps: checkpoint=300, current=400" in err and "--allow-config-change" in err
    assert err.count("checkpoint=") == 1  # the only difference from the saved configuration

    assert (
        main(
            [
                "train",
                "--resume",
                str(run),
                "--device",
                "cpu",
                "--allow-config-change",
                "--set",
                "schedule.total_steps=400",
            ]
        )
        == 0
    )
    assert "trains on to the schedule's 400" in capsys.readouterr().out
    results = json.loads((run / "results.json").read_text())
    # two more epochs collect 50 steps each, then the extra epoch (spec §1) without collection
    assert (results["agent_steps"], results["epochs"]) == (400, 8)
    assert _metric_epochs(run) == list(range(1, 9))
    assert [json.loads(line)["agent_steps"] for line in (run / "metrics.jsonl").read_text().splitlines()][5:] == [
        350,
        400,
        400,
    ]


def test_run_folder_contents(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--set", "schedule.random_episodes=4"]) == 0
    results = json.loads((run / "results.json").read_text())
    assert len(results["final"]["returns"]) == 3 and len(results["random"]["returns"]) == 4
    assert "beats_random" in results and results["test_history"]
    for name in (
        "config.json",
        "protocol.json",
        "learning_curve.png",
        "videos/real_game.mp4",
        "videos/imagination.mp4",
        "checkpoints/agent.pt",
    ):
        assert (run / name).stat().st_size > 0, name
    assert sorted(p.name for p in (run / "agents").iterdir())[0].startswith("epoch_")
    assert json.loads((run / "protocol.json").read_text())["protocol"]["env"] == "minatar"
    assert (run / "tensorboard").is_dir()


def test_model_free_switch(tmp_path, capsys):
    run = tmp_path / "mf"
    assert main(["train", *TINY, "--model-free", "--out", str(run)]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["model_free"] and results["agent_steps"] <= 450
    assert "imagination" not in results["videos"]
    out = capsys.readouterr().out  # its rollouts are real steps: nothing is called imagined
    assert "real frames/s" in out and "imagined" not in out
    assert all("imagined_frames_per_s" not in line for line in (run / "metrics.jsonl").read_text().splitlines())


def test_bad_input_gets_clear_errors_and_changes_nothing(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["train", "--resume", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err

    assert main(["train", "--preset", "paper", "--set", "env.size=32", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "size=32" in err and "64 for atari" in err

    assert main(["train", "--preset", "paper", "--game", "Pacman", "--out", str(tmp_path / "y")]) == 2
    assert "--game (env.game): unknown Atari 100k game 'Pacman'" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()  # refused before the run folder was made

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["train", *TINY, "--out", str(blocker / "run")]) == 2
    assert "cannot be written" in capsys.readouterr().err

    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run), "--set", "schedule.total_steps=150"]) == 0
    capsys.readouterr()
    ckpt = run / "checkpoints" / "agent.pt"
    before = ckpt.read_bytes()
    assert main(["train", *TINY, "--out", str(run)]) == 2  # a new run over an existing one
    assert "--resume" in capsys.readouterr().err
    assert main(["train", *TINY, "--resume", str(run)]) == 2  # a preset would reset the saved configuration
    assert "--preset tiny with --resume" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--resume",
                str(run),
                "--set",
                "schedule.total_steps=450",
                "--set",
                "actor_critic_training.optimizer.lr=0.01",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "actor_critic_training.optimizer.lr" in err and "schedule.total_steps" in err  # every difference listed
    assert err.count("checkpoint=") == 2
    assert ckpt.read_bytes() == before

    ckpt.write_bytes(before[: len(before) // 2])  # a truncated checkpoint
    assert main(["train", "--resume", str(run)]) == 2
    assert "agent.pt" in capsys.readouterr().err
    assert len(_episodes(run)) > 0  # the data is still there
