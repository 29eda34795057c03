"""A run killed before its first checkpoint: re-running it (new or ``--resume``) sets the folder aside, kept,
and starts afresh, ending exactly as an uninterrupted run; a folder that is not a run's is refused."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diamond.cli import main
from diamond.data import EpisodeStore
from diamond.layout import AgentRun

pytest.importorskip("minatar")

TINY = ["--preset", "tiny", "--device", "cpu", "--set", "schedule.total_steps=300"]
DRIVER = Path(__file__).with_name(
    "train_kill_driver.py"
)  # SIGKILLs a run at its first stored episode after N checkpoints
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _train(*args: str, driver: bool = False) -> subprocess.CompletedProcess:
    command = [str(DRIVER), "0"] if driver else ["-m", "diamond.cli", "train"]
    return subprocess.run(
        [sys.executable, *command, *args], capture_output=True, text=True, env=ENV, timeout=600, cwd=DRIVER.parent
    )


def _killed_before_first_checkpoint(run: Path) -> None:
    killed = _train(*TINY, "--out", str(run), driver=True)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert len(EpisodeStore.open(run / AgentRun.TRAIN_DATA, read_only=True)) == 1  # one episode, no checkpoint
    assert (run / AgentRun.CONFIG).exists() and not (run / AgentRun.CHECKPOINT).exists()


def _same_run(a: Path, b: Path) -> None:
    ra, rb = (json.loads((r / AgentRun.RESULTS).read_text()) for r in (a, b))
    assert ra["agent_steps"] == rb["agent_steps"] and ra["final"]["returns"] == rb["final"]["returns"]
    ea, eb = (EpisodeStore.open(r / AgentRun.TRAIN_DATA, read_only=True) for r in (a, b))
    assert len(ea) == len(eb)
    for i in range(len(ea)):  # the same episodes, step for step: nothing of the killed attempt is mixed in
        assert np.array_equal(ea.get(i).obs, eb.get(i).obs) and np.array_equal(ea.get(i).act, eb.get(i).act)


def test_rerun_and_resume_start_afresh_and_keep_what_the_kill_left(tmp_path):
    uninterrupted = tmp_path / "a"
    assert _train(*TINY, "--out", str(uninterrupted)).returncode == 0

    for run, again in ((tmp_path / "new", [*TINY, "--out"]), (tmp_path / "resumed", ["--device", "cpu", "--resume"])):
        _killed_before_first_checkpoint(run)
        done = _train(*again, str(run))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "was stopped before its first checkpoint" in done.stdout
        # the long first epoch says what it is doing before its line: the collection, then the updates
        lines = done.stdout.splitlines()
        start = lines.index("epoch 1: collecting the initial steps (spec §1)")
        assert re.fullmatch(
            r"epoch 1: [\d,]+ steps collected in [\d.]+s; updates: denoiser \d+, rew_end \d+, actor_critic \d+",
            lines[start + 1],
        )
        assert lines[start + 2].startswith("epoch 1 | ")
        _same_run(uninterrupted, run)
        kept = [p for p in tmp_path.iterdir() if p.name.startswith(f"{run.name}.stale-")]
        assert len(kept) == 1, kept  # set aside, not deleted: the killed attempt's episode is still there
        assert len(EpisodeStore.open(kept[0] / AgentRun.TRAIN_DATA, read_only=True)) == 1


def test_a_folder_that_is_not_a_run_is_refused_and_left_alone(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    for flags in (["--out", str(folder), *TINY], ["--resume", str(folder)]):
        assert main(["train", *flags]) == 2
        err = capsys.readouterr().err
        assert "notes.txt" in err or "config.json" in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert not any(p.name.startswith("mine.stale-") for p in tmp_path.iterdir())
