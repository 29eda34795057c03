"""Runs `diamond train ARGS...` and SIGKILLs itself as soon as an episode is stored after its Nth checkpoint.

Usage: python train_kill_driver.py N ARGS... Deterministic, unlike a kill on a timer: the run dies with
its checkpoint N on disk and at least one episode stored after it (used by test_resume_after_repair.py).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from diamond.cli import main
from diamond.data import EpisodeStore
from diamond.training import run_state as run

checkpoints_to_write = int(sys.argv[1])
written = 0
save_checkpoint = run.save_checkpoint
add = EpisodeStore.add


def counting_save(path, *args, **kwargs):
    global written
    out = save_checkpoint(path, *args, **kwargs)
    written += Path(path).name == Path(run.CHECKPOINT).name
    return out


def add_then_die(self, episode):
    episode_id = add(self, episode)
    if written >= checkpoints_to_write:
        os.kill(os.getpid(), signal.SIGKILL)
    return episode_id


run.save_checkpoint = counting_save
EpisodeStore.add = add_then_die
raise SystemExit(main(["train", *sys.argv[2:]]))
