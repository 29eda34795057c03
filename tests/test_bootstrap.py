"""``bootstrap.py``, the README's entry point: Ctrl+C (SIGINT to the whole process group, as a terminal sends
it) stops the command it runs cleanly, and bootstrap waits for it instead of printing a traceback."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (ROOT / ".venv").is_dir(), reason="bootstrap.py would first create .venv (minutes)")
def test_ctrl_c_stops_the_command_and_bootstrap_without_a_traceback(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, str(ROOT / "bootstrap.py"), "--", "train", "--preset", "tiny", "--device", "cpu"]
    cmd += ["--set", "schedule.total_steps=100000", "--out", str(run)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as in a terminal: a test runner started in the background inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "agent.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl+C: bootstrap and the command both get it
    out, err = proc.communicate(timeout=300)
    assert "interrupted; completed work is saved" in err, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert proc.returncode != 0 and (run / "checkpoints" / "agent.pt").exists()
