"""A damaged episode in a run's replay store: `--resume` stops and points at `diamond store repair`; after
the repair the run resumes from its checkpoint, rolling back exactly the episodes stored after it."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from diamond.data import EpisodeStore

pytest.importorskip("minatar")

DRIVER = Path(__file__).with_name("train_kill_driver.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def diamond(*args, driver: list[str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, *(driver or ["-m", "diamond.cli"]), *map(str, args)]
    return subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, timeout=600, check=False
    )


def stored_files(run: Path) -> list[bytes]:
    """The bytes of the store's episode files, in index order."""
    root = run / "data" / "train"
    return [(root / e["file"]).read_bytes() for e in json.loads((root / "index.json").read_text())["episodes"]]


def test_resume_after_repairing_a_damaged_episode_the_checkpoint_covers(tmp_path):
    run = tmp_path / "run"
    killed = diamond(2, "--preset", "tiny", "--out", run, "--device", "cpu", driver=[str(DRIVER)])
    assert killed.returncode == -signal.SIGKILL, killed.stdout
    ckpt = run / "checkpoints" / "agent.pt"
    saved = torch.load(ckpt, weights_only=True)
    covered = int(saved["num_episodes"])
    files = stored_files(run)
    assert 2 < covered < len(files), (covered, len(files))  # episodes after the checkpoint, to be rolled back

    # The newest episode the checkpoint covers: the sampler favours recent episodes, so the resumed run
    # reads it in its first epoch, before writing a checkpoint.
    v = covered - 1
    victim = run / "data" / "train" / f"{v:09d}.ep"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    failed = diamond("train", "--resume", run, "--device", "cpu")
    assert failed.returncode == 2, failed.stdout
    assert victim.name in failed.stdout and f"diamond store repair {run / 'data' / 'train'}" in failed.stdout
    assert not (run / "results.json").exists()
    # The failed resume may have gone on for some epochs before it read the damaged episode: start from there.
    saved = torch.load(ckpt, weights_only=True)
    covered = int(saved["num_episodes"])
    files = stored_files(run)
    victim_steps = int(EpisodeStore.open(run / "data" / "train", read_only=True).lengths[v])

    checked = diamond("store", "check", run)
    assert checked.returncode == 1 and f"episode {v} ({victim.name}, {victim_steps} agent steps)" in checked.stdout
    repaired = diamond("store", "repair", run)
    assert repaired.returncode == 0, repaired.stdout
    assert f"lost 1 episode(s) and {victim_steps} agent steps" in repaired.stdout
    assert f"resumes from {covered - 1} stored episodes (was {covered})" in repaired.stdout
    assert torch.load(ckpt, weights_only=True)["num_episodes"] == covered - 1
    assert (run / "data" / "train" / "damaged" / victim.name).read_bytes() == bytes(data)

    resumed = diamond("train", "--resume", run, "--device", "cpu")
    assert resumed.returncode == 0, resumed.stdout
    dropped = len(files) - covered  # stored after the checkpoint: rolled back, none of the others
    assert dropped >= 1, "the failed resume stored no episode after the checkpoint: nothing to roll back"
    assert (
        f"resumed {run} after epoch {saved['run']['epoch']} ({saved['run']['agent_steps']:,} agent steps); "
        f"{dropped} episode(s) stored after that checkpoint were rolled back"
    ) in resumed.stdout
    results = json.loads((run / "results.json").read_text())
    config = json.loads((run / "config.json").read_text())
    assert results["agent_steps"] == config["schedule"]["total_steps"]  # the counters went on as they were
    kept = stored_files(run)[: covered - 1]
    assert kept == [*files[:v], *files[v + 1 : covered]]  # what the checkpoint covered, less the damaged episode
