"""A real writer process killed with SIGKILL mid-write leaves a store with every completed episode intact
and no partial one (spec §3 store: crash safety)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from crash_writer import episode_for_id
from data_helpers import assert_episodes_equal

from diamond.data import EpisodeStore

WRITER = Path(__file__).with_name("crash_writer.py")


def run_writer_and_kill(root: Path, completed_before_kill: int, delay_s: float) -> list[int]:
    """Start the writer, wait for some completed adds, SIGKILL it after ``delay_s``; return printed ids."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    printed = []
    try:
        while len(printed) < completed_before_kill:
            line = proc.stdout.readline()
            assert line, f"writer exited early: {proc.stderr.read()}"
            printed.append(int(line))
        time.sleep(delay_s)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the writer finished before it could be killed"
    printed += [int(x) for x in out.split()]
    return printed


def test_sigkill_during_writes_loses_nothing_completed(tmp_path):
    root = tmp_path / "store"
    rng = np.random.default_rng(2024)
    completed: list[int] = []
    states = []
    for _kill in range(4):
        printed = run_writer_and_kill(root, completed_before_kill=2, delay_s=float(rng.uniform(0.0, 0.12)))
        assert printed == list(range(len(completed), len(completed) + len(printed))), "ids follow collection order"
        completed += printed
        indexed = len(json.loads((root / "index.json").read_text())["episodes"])
        files = len(list(root.glob("*.ep")))
        states.append((len(completed), indexed, files, sorted(p.name for p in root.glob(".tmp-*"))))

        reader = EpisodeStore.open(root, read_only=True, cache_in_ram=False)
        # Every printed add survived; at most one more (finished but killed before printing) is visible.
        assert len(completed) <= len(reader) <= len(completed) + 1, states
        for i in range(len(reader)):  # every visible episode is whole and bit-exact, none is partial
            assert_episodes_equal(reader.get(i), episode_for_id(i))
        with EpisodeStore.open(root) as writer:  # recovery as a writer: index repaired, temporaries removed
            assert len(writer) == len(reader)
        assert not list(root.glob(".tmp-*"))
        completed = list(range(len(reader)))  # the next writer continues after what is visible
    print("kills (printed, indexed, episode files, temporaries left):", states)
