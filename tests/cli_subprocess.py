"""`diamond ...` as a real subprocess, for the command tests: its exit status, output and messages."""

import os
import subprocess
import sys


def diamond(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diamond.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def ok(*args, env=None) -> subprocess.CompletedProcess:
    proc = diamond(*args, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def error_of(*args, env=None) -> str:
    """The message of a command that must fail as bad input does: exit status 2, no traceback."""
    proc = diamond(*args, env=env)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return proc.stderr
