#!/usr/bin/env python3
"""Set up a virtual environment for this project and run a job in it. Needs only Python 3.10+.

    python3 bootstrap.py demo          # collect Breakout, train a CPU-sized world model, imagine
    python3 bootstrap.py test          # the import-layer contracts, ruff, then the test suite
    python3 bootstrap.py -- ARGS...    # any `diamond` command, e.g. -- bench --json bench.json

The environment lives in .venv (or $DIAMOND_VENV). PyTorch: if the Python running this script can
already import torch (for instance a CUDA build), the environment sees it and keeps it; otherwise the
CPU build torch==2.13.0 is installed. The package and its dependencies are installed once, and again
only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("DIAMOND_VENV", ROOT / ".venv"))
TORCH_CPU = "torch==2.13.0"


def say(msg: str) -> None:
    print(f"[bootstrap] {msg}", file=sys.stderr, flush=True)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def can_import(python: Path | str, module: str) -> bool:
    return subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0


def pip(*args: str) -> None:
    cmd = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    say(" ".join(cmd[1:]))
    subprocess.run(cmd, check=True)


def ensure_environment() -> Path:
    if sys.version_info < (3, 10):
        sys.exit(f"[bootstrap] Python 3.10 or newer is needed; this is {sys.version.split()[0]}")
    python = venv_python()
    if not python.exists():
        inherit = can_import(sys.executable, "torch")
        say(f"creating {VENV}" + (" (sharing this Python's torch)" if inherit else ""))
        venv.EnvBuilder(with_pip=True, system_site_packages=inherit).create(VENV)
    if not can_import(python, "torch"):
        pip(TORCH_CPU)
    stamp = VENV / ".diamond-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest or not can_import(python, "diamond"):
        pip("-e", f"{ROOT}[dev]")
        stamp.write_text(digest)
    return python


def checks(python: Path) -> list[tuple[str, list[str]]]:
    """The static checks of `test`: the layer contracts (pyproject.toml [tool.importlinter]), ruff lint and format."""
    lint_imports = python.parent / ("lint-imports.exe" if os.name == "nt" else "lint-imports")
    return [
        ("import layers", [str(lint_imports), "--config", str(ROOT / "pyproject.toml")]),
        ("ruff", [str(python), "-m", "ruff", "check", "src", "tests", "scripts"]),
        ("ruff format", [str(python), "-m", "ruff", "format", "--check", "src", "tests", "scripts"]),
    ]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    python = ensure_environment()
    job, rest = argv[0], argv[1:]
    if job == "test":
        for name, check in checks(python):  # the shape of the code first: seconds, before minutes of tests
            say(f"{name}: {' '.join(check)}")
            if subprocess.run(check, cwd=ROOT).returncode != 0:
                say(f"{name} failed (see above); fix it before the tests run")
                return 1
        cmd = [str(python), "-m", "pytest", *(rest or ["-q"])]
        say(" ".join(cmd))
    elif job == "demo":
        cmd = [str(python), "-m", "diamond.cli", "demo", *rest]
    elif job == "--":
        cmd = [str(python), "-m", "diamond.cli", *rest]
    else:
        print(f"[bootstrap] unknown job {job!r}; use demo, test, or -- followed by a diamond command", file=sys.stderr)
        return 2
    return run_to_the_end(cmd)


def run_to_the_end(cmd: list[str]) -> int:
    """``cmd``'s exit status. Ctrl+C reaches the command too (one process group): it saves its work and
    stops, and this process waits for it instead of printing a traceback of its own."""
    child = subprocess.Popen(cmd, cwd=ROOT)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
