"""Where each run of a sweep lives, and what state it is in. Pure path logic, no Hydra."""

from __future__ import annotations

import time
from pathlib import Path

from diamond.layout import AgentRun

FINISHED, UNFINISHED, STALE, NEW = "finished", "unfinished", "stale", "new"


def run_folder(root: str | Path, game: str, seed: int) -> Path:
    """The predictable folder of one run: ROOT/GAME/seedS."""
    return Path(root) / game / f"seed{seed}"


def run_status(run_dir: Path) -> str:
    """finished: results.json written; unfinished: a checkpoint to resume from; stale: a folder killed
    before its first checkpoint (nothing to resume); new: no folder."""
    if (run_dir / AgentRun.RESULTS).exists():
        return FINISHED
    if (run_dir / AgentRun.CHECKPOINT).exists():
        return UNFINISHED
    return STALE if run_dir.exists() else NEW


def set_aside(run_dir: Path) -> Path:
    """Move a stale run folder out of the way (kept, never deleted) so that the run can start afresh."""
    target = run_dir.with_name(f"{run_dir.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 0
    while target.exists():
        n += 1
        target = target.with_name(f"{run_dir.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    run_dir.rename(target)
    return target
