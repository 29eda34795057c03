"""Where each run of a sweep lives, and what state it is in. Pure path logic, no Hydra."""

from __future__ import annotations

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
